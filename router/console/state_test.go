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
