package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

func buildDir(t *testing.T, dests map[string]string) config.Diagnostics {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	for name, body := range dests {
		must(t, os.WriteFile(filepath.Join(dir, "destinations", name), []byte(body), 0o644))
	}
	cfg, diags := config.Load(dir, config.Options{Lookup: func(k string) (string, bool) { return "v-" + k, true }})
	if diags.Err() != nil {
		return diags
	}
	_, more := plan.Build(cfg)
	return append(diags, more...)
}

func TestBuildErrorsPointIntoTheFile(t *testing.T) {
	cases := []struct {
		name, dest string
		want       string
	}{
		{"expression inside trigger", "type: http\nactions:\n  a:\n    trigger: type == \"track\" && evnt == 1\n    url: https://x.test\n    fields: {a: userId}\n",
			`d.yaml:4:33: actions.a.trigger: unknown name evnt`},
		{"expression in fields", "type: http\nactions:\n  a:\n    url: https://x.test\n    fields:\n      total: properties.price *\n",
			`d.yaml:6:31: actions.a.fields.total: unexpected token EOF`},
		{"template in url", "type: http\nactions:\n  a:\n    url: https://x.test/{{ usrId }}\n    fields: {a: userId}\n",
			`d.yaml:4:28: actions.a.url: unknown name usrId`},
		{"unknown type", "type: brazee\n", `d.yaml:1:7: unknown destination type "brazee"`},
		{"webhook without url", "type: webhook\nsettings: {}\n", `d.yaml:2:11: webhook needs settings.url`},
		{"webhook literal secret", "type: webhook\nsettings:\n  url: https://x.test\n  secret: whsec_abc\n", `d.yaml:4:11: secret must come from the environment`},
		{"webhook bad url", "type: webhook\nsettings:\n  url: ftp://x\n", `d.yaml:3:8: "ftp://x" is not an http(s) URL`},
		{"http action without url", "type: http\nactions:\n  a:\n    fields: {a: userId}\n", `d.yaml:4:5: action a needs a url`},
		{"filter must be boolean", "type: webhook\nsettings: {url: https://x.test}\nfilter: properties\n", `d.yaml:3:9: filter:`},
		{"unknown method", "type: http\nactions:\n  a:\n    method: FETCH\n    url: https://x.test\n    fields: {a: 1}\n", `unknown HTTP method "FETCH"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := buildDir(t, map[string]string{"d.yaml": c.dest})
			if diags.Err() == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(diags.Error(), c.want) {
				t.Errorf("got:\n%s\nwant a line containing %q", diags.Error(), c.want)
			}
		})
	}
}

func TestTriggerNoEventCanSatisfyIsAWarning(t *testing.T) {
	diags := buildDir(t, map[string]string{"d.yaml": "type: http\nactions:\n  a:\n    trigger: type == \"trak\"\n    url: https://x.test\n    fields: {a: userId}\n"})
	if diags.Err() != nil {
		t.Fatalf("a warning must not fail the build: %v", diags)
	}
	if w := diags.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), "can never match") || !strings.Contains(w[0].String(), "d.yaml:4:22:") || !strings.Contains(w[0].String(), `did you mean "track"?`) {
		t.Errorf("warnings = %v", w)
	}
}

// With the default budget (100000), map(1..100000, #) fails for the event
// at hand, and the preview says why.
func TestDefaultExprMemoryBudgetStopsAHugeList(t *testing.T) {
	p := planFromText(t, "type: http\nactions:\n  a:\n    url: https://x.test\n    fields:\n      all: 'map(1..100000, #)'\n      some: 'map(1..1000, #)'\n")
	pv := p.Preview([]byte(`{"type":"track","messageId":"m","userId":"u","event":"E"}`), plan.PreviewOptions{})
	if pv.Outcome != "failed" || len(pv.Failures) != 1 || !strings.Contains(pv.Failures[0].Error, "memory budget exceeded") ||
		!strings.Contains(pv.Failures[0].Error, "fields.all") {
		t.Fatalf("%+v", pv)
	}
}

// A webhook forwards the event as it came, plus receivedAt and timestamp
// when the event lacks them, as Segment's webhook destination always sends
// both; fields the event has are left as they are.
func TestWebhookForwardAddsReceivedAtAndTimestamp(t *testing.T) {
	p := planFromText(t, "type: webhook\nsettings:\n  url: https://hook.example.com/in\n")
	now := time.Date(2026, 3, 4, 5, 6, 7, 800_000_000, time.UTC)
	bare := p.Preview([]byte(`{"type":"track","messageId":"m-1","userId":"u","event":"E"}`), plan.PreviewOptions{Now: now, Reveal: true})
	body, _ := bare.Requests[0].Body.(map[string]any)
	if body["receivedAt"] != "2026-03-04T05:06:07.800Z" || body["timestamp"] != "2026-03-04T05:06:07.800Z" || body["event"] != "E" {
		t.Errorf("forwarded %v, want receivedAt and timestamp added at the stream time", body)
	}
	full := p.Preview([]byte(`{"type":"track","messageId":"m-2","userId":"u","event":"E","timestamp":"2020-01-01T00:00:00Z","receivedAt":"2020-01-01T00:00:01Z"}`), plan.PreviewOptions{Now: now, Reveal: true})
	body, _ = full.Requests[0].Body.(map[string]any)
	if body["timestamp"] != "2020-01-01T00:00:00Z" || body["receivedAt"] != "2020-01-01T00:00:01Z" {
		t.Errorf("forwarded %v, want the event's own times untouched", body)
	}
}

// A catalog setting that is not secret (a project id, a region) shows as it
// is, even from ${ENV}; a secret never does.
func TestNonSecretSettingsFromTheEnvironmentAreNotRedacted(t *testing.T) {
	p := planFromText(t, "type: fcm\nsettings:\n  service_account: ${FCM_KEY}\n  project_id: ${FCM_PROJECT:-my-app-1a2b3}\n  events: Order Shipped\n")
	raw := []byte(`{"type":"track","messageId":"m","userId":"u","event":"Order Shipped","context":{"device":{"token":"t"}}}`)
	pv := p.Preview(raw, plan.PreviewOptions{})
	if len(pv.Requests) != 1 || !strings.Contains(pv.Requests[0].URL, "/projects/test-fcm-project/") {
		t.Fatalf("preview %+v: want the project id in the URL", pv)
	}
	if got := p.Redactor.String("test-fcm-key"); got != plan.Redacted {
		t.Errorf("the secret service account is not redacted: %q", got)
	}
}

// validate and preview accept a placeholder service-account key with a
// warning; serve refuses it.
func TestPlaceholderCredentialsWarnUntilServe(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "destinations", "push.yaml"), []byte("type: fcm\nsettings:\n  service_account: ${FCM_KEY}\n  project_id: p-1\n  events: '*'\n"), 0o644))
	cfg, diags := config.Load(dir, config.Options{Lookup: func(string) (string, bool) { return "placeholder", true }})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil || plans["push"] == nil {
		t.Fatalf("validate refused a placeholder key: %v", diags)
	}
	if w := diags.Warnings(); len(w) == 0 || !strings.Contains(w[0].String(), "checked again, as an error, when serve starts") {
		t.Errorf("warnings %v, want the placeholder named", w)
	}
	if _, diags := plan.BuildToServe(cfg); diags.Err() == nil || !strings.Contains(diags.Error(), "service_account") {
		t.Errorf("serve accepted a placeholder key: %v", diags)
	}
}

// A setting name or an enum value one typo away gets a did-you-mean.
func TestSettingTyposGetADidYouMean(t *testing.T) {
	diags := buildDir(t, map[string]string{"d.yaml": "type: braze\nsettings:\n  api_kee: ${K}\n  instance: US-3\n"})
	for _, want := range []string{`unknown setting "api_kee" for braze`, `did you mean "api_key"?`, `instance "US-3": want one of`, `did you mean "US-03"?`} {
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("diagnostics lack %q:\n%s", want, diags.Error())
		}
	}
}

// validate reports every broken part of an action at its own place, not
// just the first: a broken trigger does not hide a broken field.
func TestValidateReportsEveryErrorOfAnAction(t *testing.T) {
	diags := buildDir(t, map[string]string{"d.yaml": "type: http\nactions:\n  a:\n    trigger: type == \"track\" &&\n    url: https://x.test/{{ usrId }}\n    fields:\n      one: properties.price *\n      two: userId\n      three: nope(1)\n"})
	for _, want := range []string{"d.yaml:4:", "actions.a.trigger", "d.yaml:5:", "actions.a.url: unknown name usrId", "d.yaml:7:", "actions.a.fields.one", "d.yaml:9:", "actions.a.fields.three"} {
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("diagnostics lack %q:\n%s", want, diags.Error())
		}
	}
}

// A forwarded event with bytes that are not UTF-8 goes out as valid UTF-8
// (U+FFFD), as the decoder read it.
func TestWebhookForwardSendsValidUTF8(t *testing.T) {
	p := planFromText(t, "type: webhook\nsettings:\n  url: https://hook.example.com/in\n")
	raw := []byte("{\"type\":\"track\",\"messageId\":\"m-u\",\"userId\":\"u\",\"event\":\"caf\xe9\",\"timestamp\":\"2020-01-01T00:00:00Z\",\"receivedAt\":\"2020-01-01T00:00:01Z\"}")
	ev, err := mappings.Decode(raw, time.Now(), p.Limits())
	must(t, err)
	rt := p.Route(ev, "web", raw, &mappings.Env{}, plan.RouteOptions{})
	if len(rt.Requests) != 1 {
		t.Fatalf("routing: %+v", rt)
	}
	if body := rt.Requests[0].Req.Body; !utf8.Valid(body) || !strings.Contains(string(body), "caf\uFFFD") {
		t.Errorf("forwarded %q: want valid UTF-8, the invalid byte as U+FFFD", body)
	}
}
