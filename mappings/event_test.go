package mappings

import (
	"testing"
	"time"
)

func TestClockSkewCorrection(t *testing.T) {
	recv := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"device clock 10 min fast", map[string]any{"originalTimestamp": "2026-01-01T12:09:00Z", "sentAt": "2026-01-01T12:10:00Z", "receivedAt": "2026-01-01T12:00:00Z"}, "2026-01-01T11:59:00Z"},
		{"timestamp stands for the client time", map[string]any{"timestamp": "2026-01-01T11:58:00Z", "sentAt": "2026-01-01T11:59:00Z"}, "2026-01-01T11:59:00Z"},
		{"no sentAt: the client time as is", map[string]any{"timestamp": "2025-06-01T00:00:00Z"}, "2025-06-01T00:00:00Z"},
		{"nothing: receivedAt", map[string]any{}, "2026-01-01T12:00:00Z"},
		{"empty string is absent", map[string]any{"timestamp": "", "receivedAt": "2026-01-01T10:00:00Z"}, "2026-01-01T10:00:00Z"},
	}
	for _, c := range cases {
		got, err := CorrectTimestamp(c.raw, recv)
		if err != nil {
			t.Errorf("%s: %v", c.name, err.reason)
			continue
		}
		if got.Format(time.RFC3339) != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Format(time.RFC3339), c.want)
		}
	}
	if _, err := CorrectTimestamp(map[string]any{"sentAt": "yesterday"}, recv); err == nil || err.field != "sentAt" {
		t.Errorf("a bad time must be an error naming its field: %v", err)
	}
}

func TestIntegrationsObject(t *testing.T) {
	cases := []struct {
		integrations map[string]any
		want         bool
	}{
		{nil, true},
		{map[string]any{"All": false}, false},
		{map[string]any{"All": false, "Braze": true}, true},
		{map[string]any{"braze": false}, false},
		{map[string]any{"All": false, "Google Analytics 4": map[string]any{"clientId": "x"}}, true},
		{map[string]any{"all": "false"}, false},
		{map[string]any{"Mixpanel": false}, true},
	}
	for _, c := range cases {
		if got := IntegrationEnabled(c.integrations, "braze-prod", "Braze", "google_analytics_4"); got != c.want {
			t.Errorf("%v: %v, want %v", c.integrations, got, c.want)
		}
	}
}

func TestValidationNamesTheField(t *testing.T) {
	for src, field := range map[string]string{
		`{"type":"track","messageId":"m","userId":"u"}`:                 "event",
		`{"type":"group","messageId":"m","userId":"u"}`:                 "groupId",
		`{"type":"alias","messageId":"m","userId":"u"}`:                 "previousId",
		`{"type":"identify","messageId":"m"}`:                           "userId",
		`{"type":"identify","userId":"u"}`:                              "messageId",
		`{"type":"shout","messageId":"m","userId":"u"}`:                 "type",
		`{"type":"identify","messageId":"m","userId":"u","traits":[1]}`: "traits",
	} {
		_, err := Decode([]byte(src), time.Time{}, Limits{})
		ie, ok := err.(*InvalidError)
		if !ok || ie.Field != field {
			t.Errorf("%s: %v, want an error on %s", src, err, field)
		}
	}
}
