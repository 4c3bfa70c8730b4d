package router_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

func TestDeliverySamplesShowFailuresRedactedBehindTheToken(t *testing.T) {
	t.Setenv("SAMPLE_API_KEY", "sk-canary-0123456789")
	tl := newTool(t, func(n int, r *http.Request, _ []byte) (int, http.Header, string) {
		if strings.Contains(r.URL.Path, "bad") {
			return 422, nil, `{"error":"unknown field","echo":"` + r.Header.Get("Authorization") + `"}`
		}
		return 200, nil, `{"ok":true}`
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf(`type: http
settings:
  api_key: ${SAMPLE_API_KEY}
actions:
  send:
    url: '%s/{{ event == "Bad" ? "bad" : "good" }}'
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      id: messageId
      key_in_body: settings.api_key
`, tl.URL)})
	r := e.start()
	e.publish("web", track("ok-1", "u1", "Good", nil))
	e.publish("web", track("bad-1", "u1", "Bad", nil))
	e.waitSettled("hook", 2, 10*time.Second)
	srv := httptest.NewServer(r.AdminHandler("admin-token"))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/debug/deliveries?destination=hook")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("without the token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/debug/deliveries?destination=hook", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "sk-canary-0123456789") {
		t.Fatalf("the secret leaked into /debug/deliveries:\n%s", body)
	}
	var out struct {
		Failures  []router.Sample `json:"failures"`
		Successes []router.Sample `json:"successes"`
	}
	must(t, json.Unmarshal(body, &out))
	if len(out.Failures) != 1 || out.Failures[0].MessageID != "bad-1" || out.Failures[0].Response.Status != 422 {
		t.Fatalf("failures = %+v", out.Failures)
	}
	f := out.Failures[0]
	if f.Request.Headers.Get("Authorization") != plan.Redacted || !strings.Contains(f.Request.Body, plan.Redacted) || !strings.Contains(f.Response.Body, "unknown field") {
		t.Errorf("sample not redacted or incomplete: %+v %+v", f.Request, f.Response)
	}
	if !strings.Contains(f.Event, `"event":"Bad"`) {
		t.Errorf("sample lacks the event: %q", f.Event)
	}
	if len(out.Successes) != 1 {
		t.Errorf("successes = %d, want 1", len(out.Successes))
	}
	resp, _ = http.Get(srv.URL + "/readyz")
	if resp.StatusCode != 200 {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/metrics")
	mb, _ := io.ReadAll(resp.Body)
	for _, m := range []string{"switchyard_request_duration_seconds_bucket", "switchyard_consumer_lag", "switchyard_breaker_state", "switchyard_events_total"} {
		if !strings.Contains(string(mb), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if strings.Contains(string(mb), "sk-canary") {
		t.Error("secret in /metrics")
	}
}
