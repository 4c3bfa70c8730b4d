package ingest_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/switchyard/switchyard/ingest"
)

func TestSingleCallsPublishOnTheirTypeSubjectWithMsgID(t *testing.T) {
	h := start(t)
	calls := []struct {
		path  string
		event map[string]any
	}{
		{"/v1/identify", map[string]any{"type": "identify", "messageId": "m-identify", "userId": "u1", "traits": map[string]any{"email": "a@example.com"}}},
		{"/v1/track", map[string]any{"type": "track", "messageId": "m-track", "userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": 10}}},
		{"/v1/page", map[string]any{"type": "page", "messageId": "m-page", "anonymousId": "a1", "name": "Home"}},
		{"/v1/screen", map[string]any{"type": "screen", "messageId": "m-screen", "anonymousId": "a1", "name": "Cart"}},
		{"/v1/group", map[string]any{"type": "group", "messageId": "m-group", "userId": "u1", "groupId": "g1"}},
		{"/v1/alias", map[string]any{"type": "alias", "messageId": "m-alias", "userId": "u1", "previousId": "a1"}},
	}
	for _, c := range calls {
		h.mustPost(c.path, keyWeb, mustJSON(t, c.event))
	}
	got := h.stored()
	if len(got) != len(calls) {
		t.Fatalf("stored %d events, want %d", len(got), len(calls))
	}
	for i, c := range calls {
		typ := c.event["type"].(string)
		if want := "events.web." + typ; got[i].subject != want {
			t.Errorf("%s: subject %q, want %q", c.path, got[i].subject, want)
		}
		if got[i].msgID != c.event["messageId"] {
			t.Errorf("%s: Nats-Msg-Id %q, want %q", c.path, got[i].msgID, c.event["messageId"])
		}
		if got[i].event["messageId"] != c.event["messageId"] || got[i].event["type"] != typ {
			t.Errorf("%s: stored %v", c.path, got[i].event)
		}
	}
}

func TestWriteKeyPicksTheSourceToken(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/track", keyIOS, []byte(`{"messageId":"m1","userId":"u1","event":"Opened"}`))
	got := h.stored()
	if len(got) != 1 || got[0].subject != "events.ios.track" {
		t.Fatalf("stored %+v, want one event on events.ios.track", got)
	}
}

func TestSingleCallTakesTypeFromPathWhenBodyHasNone(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/group", keyWeb, []byte(`{"messageId":"m1","userId":"u1","groupId":"g1"}`))
	got := h.stored()
	if len(got) != 1 || got[0].event["type"] != "group" || got[0].subject != "events.web.group" {
		t.Fatalf("stored %+v, want a group event", got)
	}
}

func TestAnalyticsJSShortPathWithWriteKeyInBody(t *testing.T) {
	h := start(t)
	// analytics.js: POST <apiHost>/t, text/plain, the key in the body.
	body := []byte(`{"type":"track","event":"Clicked","anonymousId":"a1","messageId":"ajs-1","writeKey":"` + keyWeb + `"}`)
	r := h.post("/v1/t", "", body, "Content-Type", "text/plain")
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s, want 200", r.status, r.raw)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header: a browser would treat the stored event as failed and resend it")
	}
	got := h.stored()
	if len(got) != 1 || got[0].subject != "events.web.track" {
		t.Fatalf("stored %+v", got)
	}
	if _, has := got[0].event["writeKey"]; has {
		t.Errorf("writeKey was stored with the event: %v", got[0].event)
	}
}

func TestBatchPublishesEachEventOnItsSubject(t *testing.T) {
	for _, path := range []string{"/v1/batch", "/v1/import", "/v1/b"} {
		t.Run(path, func(t *testing.T) {
			h := start(t)
			body := mustJSON(t, map[string]any{"batch": []any{
				map[string]any{"type": "identify", "messageId": "b1", "userId": "u1", "traits": map[string]any{"plan": "pro"}},
				map[string]any{"type": "track", "messageId": "b2", "userId": "u1", "event": "Signed Up"},
				map[string]any{"type": "page", "messageId": "b3", "userId": "u1"},
				map[string]any{"type": "alias", "messageId": "b4", "userId": "u1", "previousId": "a0"},
			}})
			h.mustPost(path, keyWeb, body)
			got := h.stored()
			want := []struct{ subject, id string }{
				{"events.web.identify", "b1"}, {"events.web.track", "b2"}, {"events.web.page", "b3"}, {"events.web.alias", "b4"},
			}
			if len(got) != len(want) {
				t.Fatalf("stored %d events, want %d", len(got), len(want))
			}
			for i, w := range want {
				if got[i].subject != w.subject || got[i].msgID != w.id {
					t.Errorf("event %d on %s with id %s, want %s with %s", i, got[i].subject, got[i].msgID, w.subject, w.id)
				}
			}
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMissingMessageIDIsFilledAndUsedAsMsgID(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/track", keyWeb, []byte(`{"userId":"u1","event":"Viewed"}`))
	h.mustPost("/v1/track", keyWeb, []byte(`{"userId":"u1","event":"Viewed","messageId":""}`))
	got := h.stored()
	if len(got) != 2 {
		t.Fatalf("stored %d events, want 2 (two filled ids must differ)", len(got))
	}
	for _, m := range got {
		id, _ := m.event["messageId"].(string)
		if !uuidV4.MatchString(id) {
			t.Errorf("messageId %q is not a random UUID", id)
		}
		if m.msgID != id {
			t.Errorf("Nats-Msg-Id %q differs from messageId %q", m.msgID, id)
		}
	}
	if got[0].msgID == got[1].msgID {
		t.Errorf("two filled messageIds are equal: %s", got[0].msgID)
	}
}

func TestReceivedAtIsServerTimeWithMilliseconds(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	h := start(t, withNow(now))
	// A client's own receivedAt is overwritten: it would steer the skew correction.
	h.mustPost("/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":"u1","event":"E","receivedAt":"2000-01-01T00:00:00Z"}`))
	got := h.stored()[0].event
	if got["receivedAt"] != "2024-05-01T12:00:00.123Z" {
		t.Errorf("receivedAt %v, want 2024-05-01T12:00:00.123Z", got["receivedAt"])
	}
	if got["timestamp"] != "2024-05-01T12:00:00.123Z" {
		t.Errorf("timestamp %v: with no client time it is receivedAt", got["timestamp"])
	}
}

func TestTimestampIsCorrectedForAClockTenMinutesAhead(t *testing.T) {
	h := start(t) // server time 12:00:00
	// The device clock runs 10 minutes fast: it stamped the event at 12:09
	// (its time) and sent it at 12:10 (its time), one minute later.
	h.mustPost("/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":"u1","event":"E",
		"timestamp":"2024-05-01T12:09:00.000Z","sentAt":"2024-05-01T12:10:00.000Z"}`))
	got := h.stored()[0].event
	if got["timestamp"] != "2024-05-01T11:59:00.000Z" {
		t.Errorf("timestamp %v, want 2024-05-01T11:59:00.000Z (receivedAt - (sentAt - timestamp))", got["timestamp"])
	}
	if got["originalTimestamp"] != "2024-05-01T12:09:00.000Z" {
		t.Errorf("originalTimestamp %v, want the client's 2024-05-01T12:09:00.000Z", got["originalTimestamp"])
	}
}

func TestBatchSentAtContextAndIntegrationsApplyUnderEachEvent(t *testing.T) {
	h := start(t)
	body := []byte(`{
		"sentAt": "2024-05-01T12:10:00Z",
		"context": {"ip": "203.0.113.9", "library": {"name": "analytics-go", "version": "3.0.0"}},
		"integrations": {"All": true, "Braze": false},
		"batch": [
			{"type":"track","messageId":"c1","userId":"u1","event":"E","timestamp":"2024-05-01T12:09:00Z",
			 "context": {"library": {"version": "3.1.0"}, "locale": "fr-FR"},
			 "integrations": {"Braze": true}},
			{"type":"track","messageId":"c2","userId":"u1","event":"E","timestamp":"2024-05-01T12:09:30Z"}
		]}`)
	h.mustPost("/v1/batch", keyWeb, body)
	got := h.stored()
	if len(got) != 2 {
		t.Fatalf("stored %d events, want 2", len(got))
	}
	c1 := got[0].event
	ctx := c1["context"].(map[string]any)
	lib := ctx["library"].(map[string]any)
	if ctx["ip"] != "203.0.113.9" || ctx["locale"] != "fr-FR" || lib["name"] != "analytics-go" || lib["version"] != "3.1.0" {
		t.Errorf("context %v: want batch values merged under the event's own", ctx)
	}
	integ := c1["integrations"].(map[string]any)
	if integ["All"] != true || integ["Braze"] != true {
		t.Errorf("integrations %v: the event's Braze:true must win over the batch's false", integ)
	}
	if c1["timestamp"] != "2024-05-01T11:59:00.000Z" {
		t.Errorf("timestamp %v: the batch's sentAt must drive the skew correction", c1["timestamp"])
	}
	c2 := got[1].event
	if c2["context"].(map[string]any)["library"].(map[string]any)["version"] != "3.0.0" {
		t.Errorf("second event context %v: want the batch's, untouched by the first event's", c2["context"])
	}
	if c2["integrations"].(map[string]any)["Braze"] != false {
		t.Errorf("second event integrations %v", c2["integrations"])
	}
}

func TestSameMessageIDTwiceIsStoredOnce(t *testing.T) {
	h := start(t)
	ev := []byte(`{"messageId":"dup-1","userId":"u1","event":"Paid"}`)
	h.mustPost("/v1/track", keyWeb, ev)
	h.mustPost("/v1/track", keyWeb, ev)
	// A retried batch holding it dedupes too, while the new event is stored.
	h.mustPost("/v1/batch", keyWeb, []byte(`{"batch":[
		{"type":"track","messageId":"dup-1","userId":"u1","event":"Paid"},
		{"type":"track","messageId":"new-2","userId":"u1","event":"Paid"}]}`))
	got := h.stored()
	if len(got) != 2 {
		t.Fatalf("stored %d events, want 2 (dup-1 once, new-2)", len(got))
	}
	if got[0].msgID != "dup-1" || got[1].msgID != "new-2" {
		t.Errorf("stored ids %s, %s", got[0].msgID, got[1].msgID)
	}
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "duplicate"}); n != 2 {
		t.Errorf("duplicate count %v, want 2", n)
	}
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "published"}); n != 2 {
		t.Errorf("published count %v, want 2", n)
	}
	if n := h.counter("switchyard_ingest_requests_total", map[string]string{"code": "200"}); n != 3 {
		t.Errorf("200 requests %v, want 3", n)
	}
}

func TestNumbersAndUnicodeArriveUnchanged(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":12345678901234567,"event":"A <b> & ü",
		"properties":{"price":19.99,"big":12345678901234567890,"qty":3}}`))
	got := h.stored()[0].event
	if got["userId"] != "12345678901234567" {
		t.Errorf("userId %v: numeric ids become their exact digits", got["userId"])
	}
	props := got["properties"].(map[string]any)
	if props["price"] != 19.99 || props["qty"] != float64(3) {
		t.Errorf("properties %v", props)
	}
	if got["event"] != "A <b> & ü" {
		t.Errorf("event %v", got["event"])
	}
}

func TestEmptyBatchIsANoOp(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/batch", keyWeb, []byte(`{"batch":[]}`))
	if got := h.stored(); len(got) != 0 {
		t.Fatalf("stored %d events", len(got))
	}
}

func TestNewRefusesUnusableOptions(t *testing.T) {
	h := start(t)
	cases := map[string]ingest.Options{
		"no JetStream":    {WriteKeys: map[string]string{"k": "web"}},
		"no write keys":   {JetStream: h.js},
		"empty key":       {JetStream: h.js, WriteKeys: map[string]string{"": "web"}},
		"bad source name": {JetStream: h.js, WriteKeys: map[string]string{"k": "Web.Site"}},
		"batch below event": {JetStream: h.js, WriteKeys: map[string]string{"k": "web"},
			MaxEventBytes: 1000, MaxBatchBytes: 10},
	}
	for name, o := range cases {
		if _, err := ingest.New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestServerRebuiltOnTheSameRegistryKeepsCounting(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/track", keyWeb, []byte(`{"messageId":"r1","userId":"u1","event":"E"}`))
	// A reload builds a new Server on the same registry.
	srv, err := ingest.New(ingest.Options{WriteKeys: map[string]string{keyWeb: "web"}, JetStream: h.js, Metrics: h.reg})
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	h.url = hs.URL
	h.mustPost("/v1/track", keyWeb, []byte(`{"messageId":"r2","userId":"u1","event":"E"}`))
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "published"}); n != 2 {
		t.Errorf("published %v, want 2 across both servers", n)
	}
}
