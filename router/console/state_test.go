package console_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/console"
)

// A tool that answers 429 with a Retry-After holds every attempt of the
// destination off: the console says so, and for how long.
func TestAToolsRetryAfterShowsAsPaused(t *testing.T) {
	tl := newTool(t, func(string, []byte) (int, string) { return 429, `{"error":"slow down"}` })
	tl.setHeader("Retry-After", "60")
	w := newWorld(t, "", map[string]string{"hook": fmt.Sprintf(`type: webhook
settings:
  url: %s/in
delivery:
  attempts: 1
  breaker:
    failures: 100
`, tl.URL)}, "")
	w.publish("web", track("ev-1", "user-1001", "Signed Up"))
	waitFor(t, 10*time.Second, func() bool {
		s, _ := w.r.DestinationStatusOf("hook")
		return s.State == router.StatePaused
	}, func() string {
		s, _ := w.r.DestinationStatusOf("hook")
		return "state " + s.State
	})
	_, _, body := w.get("/api/")
	var v console.OverviewView
	must(t, json.Unmarshal([]byte(body), &v))
	d := v.Destinations[0]
	// max_retry_after (30 s by default) caps what the tool asks.
	if d.State != router.StatePaused || d.PausedSeconds == nil || *d.PausedSeconds <= 20 || *d.PausedSeconds > 30 || d.Health != console.HealthDegraded ||
		!strings.Contains(d.Why, "the tool asked to wait (Retry-After): paused") || !strings.Contains(d.Why, "http_429") {
		t.Errorf("a paused destination: %s", body)
	}
	if _, _, page := w.get("/"); !strings.Contains(page, "paused by Retry-After") {
		t.Errorf("the overview does not show the pause:\n%s", page)
	}
}

// An action held to a rate of its own (an endpoint's documented limit,
// below the destination's) says so on the destination's page and in its
// JSON: Iterable's bulk endpoints at 5 and 10 requests/s, its users/forget
// at 3, under the destination's 500.
func TestActionsHeldToTheirOwnRateShowIt(t *testing.T) {
	tl := newTool(t, func(string, []byte) (int, string) { return 200, `{}` })
	t.Setenv("ITERABLE_CONSOLE_KEY", "it-key")
	w := newWorld(t, "", map[string]string{"iterable": fmt.Sprintf(`type: iterable
settings:
  api_key: ${ITERABLE_CONSOLE_KEY}
  endpoint: %s
`, tl.URL)}, "")
	_, _, body := w.get("/api/destinations/iterable")
	var v console.DestinationView
	must(t, json.Unmarshal([]byte(body), &v))
	want := map[string]float64{"identify_bulk": 5, "track_bulk": 10, "forget": 3}
	for a, rps := range want {
		if got, ok := v.Policy.ActionRates[a]; !ok || got != rps {
			t.Errorf("actionRates[%s] = %v (%v), want %v: %s", a, got, ok, rps, body)
		}
	}
	if v.Policy.RPS != 500 {
		t.Errorf("rps %v, want the destination's 500", v.Policy.RPS)
	}
	_, _, page := w.get("/destinations/iterable")
	for _, s := range []string{
		"<code>identify_bulk</code> (at most 5/s)",
		"<code>track_bulk</code> (at most 10/s)",
		"; <code>forget</code> at most 3/s",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the destination page does not say %q:\n%s", s, page)
		}
	}
	// An action without a rate of its own is listed bare.
	if !strings.Contains(page, "<code>order_completed</code>;") {
		t.Errorf("order_completed has no rate of its own:\n%s", page)
	}
}
