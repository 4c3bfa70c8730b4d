package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mappings"
)

// The intake and the NATS path (mappings.Decode, as the router reads a
// direct publish) give the same verdict on every identifier, naming the
// same field: they apply one rule (issue 12: the NATS path accepted a
// 600-byte messageId the intake refused, and a numeric one).
func TestIntakeAndNATSPathAgreeOnIdentifiers(t *testing.T) {
	h := start(t)
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	events := []string{
		`{"type":"track","messageId":` + long(600) + `,"userId":"u","event":"E"}`,
		`{"type":"track","messageId":` + long(512) + `,"userId":"u","event":"E"}`,
		`{"type":"track","messageId":42,"userId":"u","event":"E"}`,
		`{"type":"track","messageId":"ok-1","userId":` + long(513) + `,"event":"E"}`,
		`{"type":"track","messageId":"ok-2","userId":12345678901234567890,"event":"E"}`,
		`{"type":"track","messageId":"ok-3","userId":true,"anonymousId":"a","event":"E"}`,
		`{"type":"track","messageId":"ok-4","userId":"u","event":` + long(513) + `}`,
		`{"type":"group","messageId":"ok-5","userId":"u","groupId":` + long(513) + `}`,
		`{"type":"alias","messageId":"ok-6","userId":"u","previousId":` + long(513) + `}`,
		`{"type":"alias","messageId":"ok-7","userId":"u","previousId":7}`,
	}
	refused := 0
	for _, e := range events {
		_, natsErr := mappings.Decode([]byte(e), time.Now(), mappings.Limits{MaxBytes: 64 << 10})
		var ie *mappings.InvalidError
		natsField := ""
		if errors.As(natsErr, &ie) {
			natsField = ie.Field
			refused++
		}
		r := h.post("/v1/batch", keyWeb, []byte(`{"batch":[`+e+`]}`))
		intakeField := ""
		if r.status != 200 {
			errs, _ := r.body["errors"].([]any)
			if len(errs) != 1 {
				t.Fatalf("%.70s: intake %d %s, want one event error", e, r.status, r.raw)
			}
			intakeField, _ = errs[0].(map[string]any)["field"].(string)
		}
		if (natsErr == nil) != (r.status == 200) || natsField != intakeField {
			t.Errorf("%.70s: NATS path %v; intake %d %.200s", e, natsErr, r.status, r.raw)
		}
	}
	if refused != 7 {
		t.Errorf("precondition: %d of %d events refused, want 7", refused, len(events))
	}
}
