package plan_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// consentDest is a webhook that needs Marketing and Analytics.
const consentDest = `type: webhook
settings:
  url: https://hooks.example.com/in
consent:
  categories: [Marketing, Analytics]
`

func route(t *testing.T, p *plan.Plan, ev map[string]any, o plan.RouteOptions) (plan.Routing, *mappings.Event) {
	t.Helper()
	raw, err := json.Marshal(ev)
	must(t, err)
	e, err := mappings.Decode(raw, time.Now(), p.Limits())
	must(t, err)
	return p.Route(e, "web", raw, &mappings.Env{}, o), e
}

func trackWith(ctx map[string]any) map[string]any {
	return map[string]any{"type": "track", "messageId": "m-1", "userId": "u-1", "event": "Signed Up", "context": ctx}
}

// Consent: every category must be true in Segment's categoryPreferences;
// an empty object is consent to nothing; no consent information is not
// enforced; RudderStack's deniedConsentIds with its resolutionStrategy.
func TestConsentRules(t *testing.T) {
	p := planFromText(t, consentDest)
	open := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\n")
	cases := []struct {
		name   string
		ctx    map[string]any
		sent   bool
		reason string
	}{
		{"both categories true", map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Marketing": true, "Analytics": true, "Ads": false}}}, true, ""},
		{"one false", map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Marketing": false, "Analytics": true}}}, false, "no consent for Marketing (false)"},
		{"one missing", map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Marketing": true}}}, false, "no consent for Analytics (missing)"},
		{"empty preferences object", map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{}}}, false, "no consent for Marketing (missing), Analytics (missing)"},
		{"a string is not true", map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Marketing": "true", "Analytics": true}}}, false, "Marketing (not true: true)"},
		{"no consent information", map[string]any{"ip": "10.0.0.1"}, true, ""},
		{"consent without preferences", map[string]any{"consent": map[string]any{}}, true, ""},
		{"preferences not an object", map[string]any{"consent": map[string]any{"categoryPreferences": []any{"Marketing"}}}, false, "not an object: consent cannot be read (fail closed)"},
		{"rudderstack: none denied", map[string]any{"consentManagement": map[string]any{"provider": "oneTrust", "deniedConsentIds": []any{"Ads"}, "resolutionStrategy": "and"}}, true, ""},
		{"rudderstack and: one denied", map[string]any{"consentManagement": map[string]any{"provider": "custom", "deniedConsentIds": []any{"Analytics"}, "resolutionStrategy": "and"}}, false, "denies Analytics (resolutionStrategy and)"},
		{"rudderstack default is and", map[string]any{"consentManagement": map[string]any{"provider": "ketch", "deniedConsentIds": []any{"Marketing"}}}, false, "denies Marketing"},
		{"rudderstack or: one denied", map[string]any{"consentManagement": map[string]any{"provider": "custom", "deniedConsentIds": []any{"Analytics"}, "resolutionStrategy": "or"}}, true, ""},
		{"rudderstack or: all denied", map[string]any{"consentManagement": map[string]any{"provider": "custom", "deniedConsentIds": []any{"Analytics", "Marketing"}, "resolutionStrategy": "or"}}, false, "denies every category"},
		{"rudderstack without denied ids", map[string]any{"consentManagement": map[string]any{"provider": "custom", "allowedConsentIds": []any{"Marketing"}}}, true, ""},
		{"rudderstack denied not a list", map[string]any{"consentManagement": map[string]any{"deniedConsentIds": "Marketing"}}, false, "fail closed"},
		{"segment's form wins over rudderstack's", map[string]any{
			"consent":           map[string]any{"categoryPreferences": map[string]any{"Marketing": true, "Analytics": true}},
			"consentManagement": map[string]any{"deniedConsentIds": []any{"Marketing"}}}, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt, _ := route(t, p, trackWith(c.ctx), plan.RouteOptions{})
			if sent := len(rt.Requests) == 1; sent != c.sent {
				t.Fatalf("sent %v, want %v: %+v", sent, c.sent, rt)
			}
			if !c.sent && (rt.Outcome != plan.Filtered || rt.Code != plan.ReasonConsent || !strings.Contains(rt.Reason, c.reason)) {
				t.Errorf("got %s/%s %q, want filtered/consent saying %q", rt.Outcome, rt.Code, rt.Reason, c.reason)
			}
			// A destination without consent categories is not enforced.
			if rt, _ := route(t, open, trackWith(c.ctx), plan.RouteOptions{}); len(rt.Requests) != 1 {
				t.Errorf("a destination declaring no consent dropped the event: %+v", rt)
			}
		})
	}
}

// Preview says which category was missing.
func TestPreviewSaysWhichConsentCategoryIsMissing(t *testing.T) {
	p := planFromText(t, consentDest)
	raw, _ := json.Marshal(trackWith(map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Marketing": true, "Analytics": false}}}))
	pv := p.Preview(raw, plan.PreviewOptions{})
	if pv.Outcome != "filtered" || pv.Code != plan.ReasonConsent || !strings.Contains(pv.Reason, "Analytics (false)") {
		t.Fatalf("preview %+v", pv)
	}
	if len(pv.Gates) != 1 || pv.Gates[0].Gate != "consent" || pv.Gates[0].Result != plan.GateDropped {
		t.Errorf("gates %+v", pv.Gates)
	}
	lines := pv.Lines()
	if len(lines) != 1 || lines[0].Code != plan.ReasonConsent || !strings.Contains(lines[0].Reason, "Analytics") {
		t.Errorf("preview --json lines %+v", lines)
	}
}

// Sampling keeps the rate within tolerance over 10,000 users, always the
// same users, whatever the event, and 0 and 1 mean none and all.
func TestSampleIsStablePerUserAndWithinTolerance(t *testing.T) {
	for _, rate := range []float64{0.1, 0.3, 0.5} {
		p := planFromText(t, fmt.Sprintf("type: webhook\nsettings:\n  url: https://hooks.example.com/in\nsample: %v\n", rate))
		const users = 10_000
		kept := 0
		for i := range users {
			ev := map[string]any{"type": "track", "messageId": fmt.Sprintf("m-%d", i), "userId": fmt.Sprintf("user-%d", i), "event": "A"}
			rt, _ := route(t, p, ev, plan.RouteOptions{})
			in := len(rt.Requests) == 1
			if !in && (rt.Code != plan.ReasonSample || rt.Outcome != plan.Filtered) {
				t.Fatalf("dropped as %s/%s, want filtered/sample", rt.Outcome, rt.Code)
			}
			if in {
				kept++
			}
			// Another event of the same user, later: the same verdict.
			again := map[string]any{"type": "identify", "messageId": fmt.Sprintf("n-%d", i), "userId": fmt.Sprintf("user-%d", i), "traits": map[string]any{"plan": "pro"}}
			if rt2, _ := route(t, p, again, plan.RouteOptions{}); (len(rt2.Requests) == 1) != in {
				t.Fatalf("user-%d: sampled differently on their next event", i)
			}
		}
		// Binomial: sd = sqrt(n p (1-p)); 4 sd is far beyond chance.
		sd := math.Sqrt(users * rate * (1 - rate))
		if got, want := float64(kept), users*rate; math.Abs(got-want) > 4*sd {
			t.Errorf("rate %v: kept %d of %d users, want %v ± %.0f", rate, kept, users, want, 4*sd)
		}
	}
	anon := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nsample: 0.5\n")
	for i := range 200 {
		a := map[string]any{"type": "page", "messageId": fmt.Sprintf("p-%d", i), "anonymousId": fmt.Sprintf("anon-%d", i)}
		b := map[string]any{"type": "track", "messageId": fmt.Sprintf("t-%d", i), "anonymousId": fmt.Sprintf("anon-%d", i), "event": "X"}
		ra, _ := route(t, anon, a, plan.RouteOptions{})
		rb, _ := route(t, anon, b, plan.RouteOptions{})
		if (len(ra.Requests) == 1) != (len(rb.Requests) == 1) {
			t.Fatalf("anon-%d: sampled differently (sampling falls back to the anonymousId)", i)
		}
	}
	for rate, want := range map[string]int{"0": 0, "1": 50} {
		p := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nsample: "+rate+"\n")
		n := 0
		for i := range 50 {
			rt, _ := route(t, p, map[string]any{"type": "track", "messageId": fmt.Sprint(i), "userId": fmt.Sprint("u", i), "event": "A"}, plan.RouteOptions{})
			n += len(rt.Requests)
		}
		if n != want {
			t.Errorf("sample %s: %d of 50 sent, want %d", rate, n, want)
		}
	}
}

func TestSampleRateIsChecked(t *testing.T) {
	assertBuildError(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nsample: 1.5\n", "sample 1.5: want a fraction from 0 to 1")
	assertBuildError(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nblock_fields: [userId, properties..x]\n", `d.yaml:4:16: block_fields "userId": want a path under properties, traits or context`, `d.yaml:4:24: block_fields "properties..x": empty path segment`)
	assertBuildError(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nconsent:\n  categories: []\n", "consent needs at least one category")
}

// block_fields removes nested paths before mapping, in traits wherever the
// call keeps them; the event routing was given is not changed.
func TestBlockFieldsRemoveNestedPathsWithoutTouchingTheEvent(t *testing.T) {
	p := planFromText(t, `type: webhook
settings:
  url: https://hooks.example.com/in
block_fields: [context.ip, properties.address.street, traits.email, context.device]
`)
	ev := map[string]any{"type": "track", "messageId": "m-1", "userId": "u-1", "event": "Ordered",
		"properties": map[string]any{"total": 9.5, "address": map[string]any{"street": "1 Main St", "city": "Paris"}},
		"context":    map[string]any{"ip": "10.1.2.3", "device": map[string]any{"id": "d"}, "page": map[string]any{"url": "https://x"}, "traits": map[string]any{"email": "a@b.c", "plan": "pro"}}}
	rt, e := route(t, p, ev, plan.RouteOptions{Trace: true})
	before, _ := json.Marshal(e.Raw)
	if len(rt.Requests) != 1 {
		t.Fatalf("routing %+v", rt)
	}
	var body map[string]any
	must(t, json.Unmarshal(rt.Requests[0].Req.Body, &body))
	ctx := body["context"].(map[string]any)
	props := body["properties"].(map[string]any)
	if _, has := ctx["ip"]; has {
		t.Error("context.ip was sent")
	}
	if _, has := ctx["device"]; has {
		t.Error("context.device was sent")
	}
	if _, has := ctx["traits"].(map[string]any)["email"]; has {
		t.Error("traits.email was sent (a track call's traits are context.traits)")
	}
	if ctx["traits"].(map[string]any)["plan"] != "pro" || ctx["page"] == nil {
		t.Error("a path not blocked was removed")
	}
	if props["address"].(map[string]any)["city"] != "Paris" || props["address"].(map[string]any)["street"] != nil || props["total"] != 9.5 {
		t.Errorf("properties %v", props)
	}
	if body["messageId"] != "m-1" || body["userId"] != "u-1" || body["event"] != "Ordered" {
		t.Errorf("the spec's fields were touched: %v", body)
	}
	after, _ := json.Marshal(e.Raw)
	if string(before) != string(after) || e.Context["ip"] != "10.1.2.3" {
		t.Error("block_fields changed the event routing was given")
	}
	if len(rt.Gates) != 1 || rt.Gates[0].Result != plan.GateChanged ||
		rt.Gates[0].Detail != "removed context.device, context.ip, context.traits.email, properties.address.street" {
		t.Errorf("gates %+v", rt.Gates)
	}
	// An identify's traits are at the top.
	id := map[string]any{"type": "identify", "messageId": "m-2", "userId": "u-1", "traits": map[string]any{"email": "a@b.c", "name": "A"}}
	rt, _ = route(t, p, id, plan.RouteOptions{})
	must(t, json.Unmarshal(rt.Requests[0].Req.Body, &body))
	if tr := body["traits"].(map[string]any); tr["email"] != nil || tr["name"] != "A" {
		t.Errorf("identify traits %v", tr)
	}
}

// allow_fields keeps only the listed paths of properties, traits and
// context; the spec's fields always stay; mappings see what is left.
func TestAllowFieldsKeepOnlyTheListedPaths(t *testing.T) {
	p := planFromText(t, `type: http
allow_fields: [properties.revenue, properties.items, context.page.url, traits.plan]
actions:
  send:
    url: https://api.example.com/in
    fields:
      all: raw
      email: email()
      plan: traitsOf().plan
`)
	ev := map[string]any{"type": "track", "messageId": "m-1", "userId": "u-1", "event": "Ordered",
		"properties":   map[string]any{"revenue": 10, "coupon": "X", "items": []any{map[string]any{"sku": "a"}}},
		"context":      map[string]any{"ip": "10.1.2.3", "page": map[string]any{"url": "https://x", "referrer": "https://r"}, "traits": map[string]any{"email": "a@b.c", "plan": "pro"}},
		"integrations": map[string]any{"All": true}}
	rt, e := route(t, p, ev, plan.RouteOptions{Trace: true})
	if len(rt.Requests) != 1 {
		t.Fatalf("routing %+v", rt)
	}
	var body struct {
		All   map[string]any `json:"all"`
		Email any            `json:"email"`
		Plan  any            `json:"plan"`
	}
	must(t, json.Unmarshal(rt.Requests[0].Req.Body, &body))
	want := map[string]any{
		"type": "track", "messageId": "m-1", "userId": "u-1", "event": "Ordered",
		"properties":   map[string]any{"revenue": float64(10), "items": []any{map[string]any{"sku": "a"}}},
		"context":      map[string]any{"page": map[string]any{"url": "https://x"}, "traits": map[string]any{"plan": "pro"}},
		"integrations": map[string]any{"All": true},
	}
	for k := range body.All {
		if k == "timestamp" || k == "receivedAt" {
			delete(body.All, k)
		}
	}
	if !reflect.DeepEqual(body.All, want) {
		t.Errorf("the mapping saw\n%v\nwant\n%v", body.All, want)
	}
	if body.Email != nil || body.Plan != "pro" {
		t.Errorf("email() %v and traits plan %v: the helpers read what allow_fields left", body.Email, body.Plan)
	}
	if e.Context["ip"] != "10.1.2.3" {
		t.Error("allow_fields changed the event routing was given")
	}
	if len(rt.Gates) != 1 || !strings.Contains(rt.Gates[0].Detail, "context.ip") || !strings.Contains(rt.Gates[0].Detail, "properties.coupon") {
		t.Errorf("gates %+v", rt.Gates)
	}
}

// A webhook forwarding events forwards what the field filters left.
func TestForwardedEventLosesBlockedFields(t *testing.T) {
	p := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nblock_fields: [context.ip]\n")
	rt, _ := route(t, p, trackWith(map[string]any{"ip": "10.1.2.3", "locale": "fr"}), plan.RouteOptions{})
	body := string(rt.Requests[0].Req.Body)
	if strings.Contains(body, "10.1.2.3") || !strings.Contains(body, `"locale":"fr"`) || !strings.Contains(body, `"receivedAt"`) {
		t.Errorf("forwarded %s", body)
	}
}

// A filter that errors drops the event (fail closed), with its reason.
func TestFilterErrorDropsAndSaysWhy(t *testing.T) {
	p := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nfilter: properties.total > 10\n")
	rt, _ := route(t, p, map[string]any{"type": "track", "messageId": "m", "userId": "u", "event": "A", "properties": map[string]any{"total": "many"}}, plan.RouteOptions{Trace: true})
	if rt.Outcome != plan.Filtered || rt.Code != plan.ReasonFilterError || len(rt.Requests) != 0 {
		t.Fatalf("routing %+v", rt)
	}
	if len(rt.Gates) != 1 || rt.Gates[0].Gate != "filter" || rt.Gates[0].Result != plan.GateDropped {
		t.Errorf("gates %+v", rt.Gates)
	}
}

// fakeRegulations suppresses the users it names at the destinations named.
type fakeRegulations map[string][]string // userId or anonymousId -> destinations

func (f fakeRegulations) Suppressed(dest, userID, anonID string) (string, bool) {
	for _, id := range []string{userID, anonID} {
		for _, d := range f[id] {
			if id != "" && d == dest {
				return "rg-test", true
			}
		}
	}
	return "", false
}

// Suppression is a gate routing is given: suppressed users are filtered
// (reason suppressed) before anything else, by userId or anonymousId, and
// only at the destinations in scope.
func TestSuppressionIsAnInputOfRouting(t *testing.T) {
	p := planFromText(t, "name: hook\ntype: webhook\nsettings:\n  url: https://hooks.example.com/in\nfilter: 'false'\n")
	regs := fakeRegulations{"u-1": {"hook"}, "a-9": {"hook"}, "u-2": {"other"}}
	cases := []struct {
		ev         map[string]any
		suppressed bool
	}{
		{map[string]any{"type": "track", "messageId": "1", "userId": "u-1", "event": "A"}, true},
		{map[string]any{"type": "track", "messageId": "2", "userId": "u-3", "anonymousId": "a-9", "event": "A"}, true},
		{map[string]any{"type": "track", "messageId": "3", "userId": "u-2", "event": "A"}, false},
	}
	for _, c := range cases {
		rt, _ := route(t, p, c.ev, plan.RouteOptions{Regulations: regs, Trace: true})
		if got := rt.Code == plan.ReasonSuppressed; got != c.suppressed || rt.Outcome != plan.Filtered {
			t.Errorf("%v: %s/%s, want suppressed %v", c.ev, rt.Outcome, rt.Code, c.suppressed)
		}
		if c.suppressed && (len(rt.Gates) != 1 || rt.Gates[0].Gate != "suppression" || !strings.Contains(rt.Reason, "rg-test")) {
			t.Errorf("gates %+v, reason %q", rt.Gates, rt.Reason)
		}
	}
	raw, _ := json.Marshal(cases[0].ev)
	if pv := p.Preview(raw, plan.PreviewOptions{Regulations: regs}); pv.Code != plan.ReasonSuppressed {
		t.Errorf("preview with the regulations: %+v", pv)
	}
	if pv := p.Preview(raw, plan.PreviewOptions{}); pv.Code != plan.ReasonFilter {
		t.Errorf("preview without regulations: %+v", pv)
	}
}

func assertBuildError(t *testing.T, dest string, wants ...string) {
	t.Helper()
	err := buildError(t, dest)
	for _, w := range wants {
		if !strings.Contains(err, w) {
			t.Errorf("errors %q do not say %q", err, w)
		}
	}
}

func buildError(t *testing.T, dest string) string {
	t.Helper()
	diags := buildDir(t, map[string]string{"d.yaml": dest})
	if diags.Err() == nil {
		t.Fatalf("no error for\n%s", dest)
	}
	return diags.Error()
}

// What one destination derived from an event (products(), memoized on it)
// does not reach a destination whose filter removed what it was derived
// from: the same decoded event routed first without, then with
// block_fields.
func TestBlockedFieldsDoNotComeBackThroughWhatAnotherDestinationDerived(t *testing.T) {
	const mapping = `
actions:
  send:
    url: https://api.example.com/in
    fields:
      items: products()
`
	open := planFromText(t, "type: http\n"+mapping)
	closed := planFromText(t, "type: http\nblock_fields: [properties.products]\n"+mapping)
	raw, err := json.Marshal(map[string]any{"type": "track", "messageId": "m-1", "userId": "u-1", "event": "Order Completed",
		"properties": map[string]any{"products": []any{map[string]any{"sku": "secret-sku", "price": 3}}}})
	must(t, err)
	e, err := mappings.Decode(raw, time.Now(), open.Limits())
	must(t, err)
	rt := open.Route(e, "web", raw, &mappings.Env{}, plan.RouteOptions{})
	if len(rt.Requests) != 1 || !strings.Contains(string(rt.Requests[0].Req.Body), "secret-sku") {
		t.Fatalf("precondition: the open destination sends the product: %+v", rt)
	}
	rt = closed.Route(e, "web", raw, &mappings.Env{}, plan.RouteOptions{})
	for _, r := range rt.Requests {
		if strings.Contains(string(r.Req.Body), "secret-sku") {
			t.Fatalf("a blocked product reached the tool: %s", r.Req.Body)
		}
	}
}
