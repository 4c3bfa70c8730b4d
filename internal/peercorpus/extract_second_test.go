package peercorpus

import (
	"encoding/json"
	"testing"
)

// Each second-wave extractor reads both routers' API shapes to the same
// fields: switchyard's batch forms and Segment's single-request forms.
func TestSecondWaveExtractorsReadBothShapes(t *testing.T) {
	req := func(url, body string) Request {
		var b any
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			b = body // a form body, as preview shows it
		}
		return Request{Method: "POST", URL: url, Body: b}
	}
	ms := int64(1709287200000)
	for _, c := range []struct {
		tool, name string
		a, b       []Request
		check      func(Fields) string
	}{
		{"hubspot", "contact upsert: batch by email, or PATCH /contacts/{email}",
			[]Request{req("https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert", `{"inputs":[{"idProperty":"email","id":"jane@example.com","properties":{"email":"jane@example.com"}}]}`)},
			[]Request{req("https://api.hubapi.com/crm/v3/objects/contacts/jane%40example.com?idProperty=email", `{"properties":{"email":"jane@example.com"}}`)},
			func(f Fields) string {
				return want(f.Identity == "jane@example.com" && f.Email == "jane@example.com" && f.Event == "", "contact", f)
			}},
		{"hubspot", "custom event: batch or single send",
			[]Request{req("https://api.hubapi.com/events/v3/send/batch", `{"inputs":[{"eventName":"pe1_x","email":"a@x.io","occurredAt":"2024-03-01T10:00:00Z","properties":{}}]}`)},
			[]Request{req("https://api.hubapi.com/events/v3/send", `{"eventName":"pe1_x","email":"a@x.io","occurredAt":"2024-03-01T10:00:00Z"}`)},
			func(f Fields) string {
				return want(f.Identity == "a@x.io" && f.Event == "pe1_x" && f.TimeMs != nil && *f.TimeMs == ms, "event", f)
			}},
		{"intercom", "data event with a price in cents; the contact search is not data",
			[]Request{req("https://api.intercom.io/events", `{"event_name":"Order Completed","created_at":1709287200,"user_id":"u-42","metadata":{"price":{"amount":2599,"currency":"EUR"}}}`)},
			[]Request{req("https://api.intercom.io/contacts/search", `{"query":{"field":"email","operator":"=","value":"x@y.z"}}`),
				req("https://api.intercom.io/events", `{"event_name":"Order Completed","created_at":1709287200,"user_id":"u-42","metadata":{"price":{"amount":2599,"currency":"EUR"}}}`)},
			func(f Fields) string {
				return want(f.Identity == "u-42" && f.Email == "" && f.Event == "Order Completed" && f.Revenue != nil && *f.Revenue == 25.99 &&
					f.Currency == "EUR" && f.TimeMs != nil && *f.TimeMs == ms, "event", f)
			}},
		{"intercom", "contact: created with external_id, or a lead by email",
			[]Request{req("https://api.intercom.io/contacts", `{"role":"user","external_id":"u-42","email":"a@x.io"}`)},
			[]Request{req("https://api.intercom.io/contacts/abc", `{"role":"user","external_id":"u-42","email":"a@x.io"}`)},
			func(f Fields) string { return want(f.Identity == "u-42" && f.Email == "a@x.io", "contact", f) }},
		{"posthog", "distinct_id on the event, or in its properties",
			[]Request{req("https://us.i.posthog.com/batch/", `{"batch":[{"event":"Signed Up","distinct_id":"u1","uuid":"x-1","timestamp":"2024-03-01T10:00:00Z","properties":{"revenue":5,"currency":"USD"}}]}`)},
			[]Request{req("https://us.i.posthog.com/batch/", `{"batch":[{"event":"Signed Up","timestamp":"2024-03-01T10:00:00Z","properties":{"distinct_id":"u1","revenue":5,"currency":"USD"}}]}`)},
			func(f Fields) string {
				return want(f.Identity == "u1" && f.Event == "Signed Up" && f.Revenue != nil && *f.Revenue == 5 && f.Currency == "USD", "event", f)
			}},
		{"posthog", "$identify in a batch, or alone at /i/v0/e/",
			[]Request{req("https://us.i.posthog.com/batch/", `{"batch":[{"event":"$identify","distinct_id":"u1","properties":{"$set":{"email":"a@x.io"}}}]}`)},
			[]Request{req("https://us.i.posthog.com/i/v0/e/", `{"event":"$identify","distinct_id":"u1","properties":{"$set":{"email":"a@x.io"}}}`)},
			func(f Fields) string {
				return want(f.Identity == "u1" && f.Email == "a@x.io" && f.Event == "$identify", "identify", f)
			}},
		{"segment", "a Tracking API batch: userId, else anonymousId; the page's name",
			[]Request{req("https://api.segment.io/v1/batch", `{"batch":[{"type":"page","name":"Home","anonymousId":"a1","messageId":"m1","timestamp":"2024-03-01T10:00:00Z","context":{"traits":{"email":"a@x.io"}}}]}`)},
			[]Request{req("https://api.segment.io/v1/batch", `{"batch":[{"type":"page","name":"Home","anonymousId":"a1","messageId":"m1","timestamp":"2024-03-01T10:00:00.000Z","context":{"traits":{"email":"a@x.io"}}}]}`)},
			func(f Fields) string {
				return want(f.Identity == "a1" && f.Email == "a@x.io" && f.Event == "Home" && f.DedupeID == "m1", "page", f)
			}},
		{"twilio", "the recipient, from a form text or a decoded form, without whatsapp:",
			[]Request{req("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", "Body=Hi&To=whatsapp%3A%2B15558675310")},
			[]Request{req("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", `{"To":"+15558675310","Body":"Hi"}`)},
			func(f Fields) string { return want(f.Identity == "+15558675310", "recipient", f) }},
	} {
		for side, reqs := range map[string][]Request{"switchyard's": c.a, "Segment's": c.b} {
			if msg := c.check(Extract(c.tool, reqs)); msg != "" {
				t.Errorf("%s: %s: %s form: %s", c.tool, c.name, side, msg)
			}
		}
	}
}

func want(ok bool, what string, f Fields) string {
	if ok {
		return ""
	}
	b, _ := json.Marshal(f)
	return what + " read as " + string(b)
}
