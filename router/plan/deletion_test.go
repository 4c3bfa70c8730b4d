package plan_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router/plan"
)

func deletionOf(n int, typ string) plan.Deletion {
	d := plan.Deletion{Regulation: "rg-1", Type: typ, Reason: "ticket 9", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i := range n {
		d.Users = append(d.Users, plan.User{UserID: fmt.Sprintf("u-%d", i+1)})
	}
	return d
}

// A webhook without delete actions receives each deleted user as an event
// of type delete naming the user (userId, DESIGN.md), with the Standard
// Webhooks headers of its events, and keeps forwarding events.
func TestWebhookReceivesADeleteEvent(t *testing.T) {
	p := planFromText(t, "type: webhook\nsettings:\n  url: https://hooks.example.com/in\n")
	del := deletionOf(2, "delete")
	del.Users[1].AnonymousID, del.Users[1].Email = "a-2", "two@example.com"
	pv := p.PreviewDeletion(del, nil, plan.PreviewOptions{Reveal: true})
	if pv.Unsupported != "" || len(pv.Requests) != 2 {
		t.Fatalf("preview %+v", pv)
	}
	r := pv.Requests[1].Request
	body := r.Body.(map[string]any)
	if body["type"] != "delete" || body["userId"] != "u-2" || body["anonymousId"] != "a-2" || body["messageId"] != "delete-rg-1-delete-1" {
		t.Errorf("body %v", body)
	}
	ctx := body["context"].(map[string]any)
	if ctx["regulation"].(map[string]any)["reason"] != "ticket 9" || ctx["traits"].(map[string]any)["email"] != "two@example.com" {
		t.Errorf("context %v", ctx)
	}
	if r.URL != "https://hooks.example.com/in" || r.Headers["Webhook-Id"] != "delete-rg-1-delete-1" || r.Headers["Webhook-Timestamp"] == "" {
		t.Errorf("request %s %v", r.URL, r.Headers)
	}
	if len(p.Actions) != 0 {
		t.Error("the webhook no longer forwards events")
	}
}

// An http destination deletes only through an action of kind delete; a
// webhook's own delete action replaces the delete event; event actions
// never see a deletion, delete actions never see an event.
func TestDeclaredDeleteActions(t *testing.T) {
	p := planFromText(t, "type: http\nactions:\n  send:\n    url: https://api.example.com/e\n    fields: {id: messageId}\n")
	if got := p.DeleteUnsupported(); !strings.Contains(got, "kind: delete") {
		t.Errorf("unsupported %q", got)
	}
	p = planFromText(t, `type: http
settings:
  token: ${API_TOKEN}
actions:
  send:
    url: https://api.example.com/e
    fields: {id: messageId}
  forget:
    kind: delete
    users_per_request: 3
    url: https://api.example.com/gdpr/{{ regulation.id }}
    headers:
      Authorization: Bearer {{ settings.token }}
    fields:
      ids: map(users, .userId)
      reason: regulation.reason
`)
	if p.DeleteUnsupported() != "" || len(p.Actions) != 1 || len(p.Deletes) != 1 {
		t.Fatalf("actions %d, deletes %d, unsupported %q", len(p.Actions), len(p.Deletes), p.DeleteUnsupported())
	}
	pv := p.PreviewDeletion(deletionOf(7, "delete"), nil, plan.PreviewOptions{})
	if len(pv.Requests) != 3 || pv.Requests[2].Users != 1 {
		t.Fatalf("7 users by 3: %+v", pv.Requests)
	}
	r := pv.Requests[0].Request
	b, _ := json.Marshal(r.Body)
	if string(b) != `{"ids":["u-1","u-2","u-3"],"reason":"ticket 9"}` || r.URL != "https://api.example.com/gdpr/rg-1" || r.Headers["Authorization"] != plan.Redacted {
		t.Errorf("request %s %s %v", r.URL, b, r.Headers)
	}
	// An event routed through the plan never reaches the delete action.
	raw := []byte(`{"type":"track","messageId":"m","userId":"u","event":"A"}`)
	if ev := p.Preview(raw, plan.PreviewOptions{}); len(ev.Requests) != 1 || ev.Requests[0].Action != "send" {
		t.Errorf("event preview %+v", ev)
	}
	hook := planFromText(t, `type: webhook
settings:
  url: https://hooks.example.com/in
actions:
  gdpr:
    kind: delete
    url: https://hooks.example.com/gdpr
    fields: {user: userId}
`)
	if len(hook.Actions) != 0 || len(hook.Deletes) != 1 {
		t.Fatalf("webhook with only a delete action: %d event actions (it forwards events), %d deletes", len(hook.Actions), len(hook.Deletes))
	}
	if pv := hook.PreviewDeletion(deletionOf(1, "delete"), nil, plan.PreviewOptions{}); pv.Requests[0].Request.URL != "https://hooks.example.com/gdpr" {
		t.Errorf("webhook delete action %+v", pv)
	}
	assertBuildError(t, "type: http\nactions:\n  x:\n    kind: erase\n    url: https://a.test\n", `kind "erase": want event or delete`)
	assertBuildError(t, "type: http\nactions:\n  x:\n    users_per_request: 5\n    url: https://a.test\n    fields: {a: 1}\n", "users_per_request applies to delete actions")
}

// A destination file may lower a catalog delete action's users per
// request, never raise it, override its fields, or turn it off (the
// destination then cannot delete).
func TestCatalogDeleteActionOverrides(t *testing.T) {
	base := "type: braze\nsettings:\n  api_key: ${BRAZE_API_KEY}\n"
	p := planFromText(t, base+"actions:\n  delete:\n    users_per_request: 10\n")
	if pv := p.PreviewDeletion(deletionOf(25, "delete"), nil, plan.PreviewOptions{}); len(pv.Requests) != 3 {
		t.Errorf("25 users by 10: %d requests", len(pv.Requests))
	}
	p = planFromText(t, base+"actions:\n  delete:\n    users_per_request: 500\n")
	if pv := p.PreviewDeletion(deletionOf(60, "delete"), nil, plan.PreviewOptions{}); len(pv.Requests) != 3 || pv.Requests[0].Users != 25 {
		t.Errorf("60 users, 500 asked, Braze's 25 kept: %+v", pv.Requests)
	}
	p = planFromText(t, base+"actions:\n  delete:\n    enabled: false\n")
	if !strings.Contains(p.DeleteUnsupported(), "disabled") {
		t.Errorf("unsupported %q", p.DeleteUnsupported())
	}
	// The event presets do not change.
	if len(p.Actions) != 3 {
		t.Errorf("%d event actions", len(p.Actions))
	}
}

// A lookup that finds nothing ends the request with nothing to delete; a
// lookup answer that is not JSON fails it with a reason.
func TestLookupAnswers(t *testing.T) {
	p := planFromText(t, "type: intercom\nsettings:\n  access_token: ${INTERCOM_ACCESS_TOKEN}\n")
	del := deletionOf(1, "delete")
	pv := p.PreviewDeletion(del, map[string][]byte{"delete#0": []byte(`{"data":[]}`)}, plan.PreviewOptions{})
	if st := pv.Requests[0]; st.Found == nil || *st.Found || st.Request != nil {
		t.Errorf("nothing found: %+v", st)
	}
	pv = p.PreviewDeletion(del, map[string][]byte{"delete#0": []byte(`{"data":[{"id":"ic-1"}`)}, plan.PreviewOptions{})
	if st := pv.Requests[0]; !strings.Contains(st.Error, "not JSON") {
		t.Errorf("a cut answer: %+v", st)
	}
	pv = p.PreviewDeletion(del, nil, plan.PreviewOptions{})
	if st := pv.Requests[0]; st.Lookup == nil || st.Request != nil {
		t.Errorf("no answer: the preview stops at the lookup: %+v", st)
	}
}
