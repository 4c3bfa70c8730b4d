package destinations

import (
	"strings"
	"testing"
)

func TestOneSignalItemErrors(t *testing.T) {
	notFound := `{"errors":[{"event_user_id":"abc123","event_id":"567491ee-9105-4a87-9cbc-ed78a571645b",
		"error":{"code":"not found","title":"failed to find a onesignal_id for user_id abc123"}}]}`
	tooBig := `{"errors":[{"event_user_id":"u1","event_id":"e1","error":{"code":"invalid","title":"event exceeds 2024 bytes"}}]}`
	type want struct {
		index int
		class Class
		has   string
	}
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []want
	}{
		{"a 202 without errors accepts the event", 202, `{}`, 1, nil},
		{"a Create user body is not an error report", 201, `{"identity":{"external_id":"u1"},"subscriptions":[]}`, 1, nil},
		{"an empty errors list accepts the event", 202, `{"errors":[]}`, 1, nil},
		{"a body that is not JSON accepts the event", 200, `ok`, 1, nil},
		{"a 4xx is the sender's business, not a per-item report", 400, tooBig, 1, nil},
		{"not found on the only event is retried", 202, notFound, 1, []want{{0, Retryable, "not found: failed to find a onesignal_id for user_id abc123"}}},
		{"another error on the only event is permanent", 202, tooBig, 1, []want{{0, Permanent, "invalid: event exceeds 2024 bytes"}}},
		{"every event of a batch failed", 202, `{"errors":[` + strings.Repeat(`{"error":{"code":"invalid","title":"bad"}},`, 1) + `{"error":{"code":"invalid","title":"bad"}}]}`, 2,
			[]want{{0, Permanent, "every event"}, {1, Permanent, "every event"}}},
		{"some events of a batch failed: all retried", 202, tooBig, 3,
			[]want{{0, Retryable, "1 of 3"}, {1, Retryable, "1 of 3"}, {2, Retryable, "idempotency_key"}}},
		{"string errors are kept as the message", 202, `{"errors":["app_id not found"]}`, 1, []want{{0, Permanent, "app_id not found"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := OneSignalItemErrors(tc.status, []byte(tc.body), tc.items)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d item errors %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Index != w.index || g.Class != w.class || !strings.Contains(g.Message, w.has) || g.Status != tc.status {
					t.Errorf("item %d = %+v, want index %d class %v status %d message containing %q", i, g, w.index, w.class, tc.status, w.has)
				}
			}
		})
	}
}

func TestOneSignalItemErrorsIsRegistered(t *testing.T) {
	if _, ok := ItemErrorsParser("onesignal"); !ok {
		t.Fatal(`item error parser "onesignal" is not registered`)
	}
}
