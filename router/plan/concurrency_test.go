package plan_test

import (
	"testing"
)

// The limit on requests in flight: adaptive for a destination sending one
// request per event, up to max_in_flight unless rate.concurrency or the
// tool's documented concurrency is lower; fixed for a batching one, and
// when the file turns it off.
func TestConcurrencyPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, dest      string
		adaptive        bool
		ceiling, starts int
	}{
		{"request per event", `type: http
sources: [web]
actions:
  a: {url: "https://example.com/x", fields: {id: messageId}}
`, true, 256, 16},
		{"request per event, max_in_flight", `type: http
sources: [web]
delivery: {max_in_flight: 1000}
actions:
  a: {url: "https://example.com/x", fields: {id: messageId}}
`, true, 1000, 16},
		{"request per event, rate.concurrency", `type: http
sources: [web]
delivery: {rate: {concurrency: 40}}
actions:
  a: {url: "https://example.com/x", fields: {id: messageId}}
`, true, 40, 16},
		{"turned off", `type: http
sources: [web]
delivery: {rate: {adaptive_concurrency: false}}
actions:
  a: {url: "https://example.com/x", fields: {id: messageId}}
`, false, 16, 16},
		{"batching", `type: webhook
sources: [web]
settings: {url: "https://example.com/hook"}
delivery: {batch: {max_items: 100}}
`, false, 16, 16},
		{"batching, turned on", `type: webhook
sources: [web]
settings: {url: "https://example.com/hook"}
delivery: {batch: {max_items: 100}, rate: {adaptive_concurrency: true}}
`, true, 256, 16},
		{"the tool's documented concurrency", `type: twilio
sources: [web]
settings: {account_sid: AC00000000000000000000000000000000, auth_token: "${TWILIO_AUTH_TOKEN}", from: "+15017122661", events: Order Shipped, consent_trait: sms_opt_in}
`, true, 50, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := planFromText(t, tc.dest).SenderConfig().Rate
			if rc.AdaptiveConcurrency != tc.adaptive || rc.Concurrency != tc.ceiling {
				t.Fatalf("adaptive %v, concurrency %d; want %v, %d", rc.AdaptiveConcurrency, rc.Concurrency, tc.adaptive, tc.ceiling)
			}
			if tc.adaptive && rc.InitialConcurrency != tc.starts {
				t.Fatalf("starts at %d, want %d", rc.InitialConcurrency, tc.starts)
			}
		})
	}
}
