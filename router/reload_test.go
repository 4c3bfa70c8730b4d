package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

func (e *env) reload() error {
	e.t.Helper()
	cfg, diags := config.Load(e.dir, config.Options{})
	if cfg == nil {
		cfg = &config.Config{}
	}
	return e.r.Reload(context.Background(), cfg, diags)
}

// A reload in the middle of a steady stream loses nothing and duplicates
// nothing: the changed destination restarts on its consumer, the others
// keep running.
func TestReloadMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	tl := newTool(t, nil)
	other := newTool(t, nil)
	hook := func(version string) string {
		return fmt.Sprintf(`type: http
actions:
  send:
    url: %s/v%s
    fields:
      messageId: messageId
      version: '"%s"'
`, tl.URL, version, version)
	}
	e := newEnv(t, "", map[string]string{
		"hook":  hook("1"),
		"other": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", other.URL),
	})
	e.start()
	const n = 3000
	var published atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			e.publish("web", track(fmt.Sprintf("m-%05d", i), "u1", "Clicked", nil))
			published.Add(1)
			time.Sleep(500 * time.Microsecond)
		}
	}()
	var reloads []time.Duration
	for v := 2; v <= 5; v++ {
		waitFor(t, 30*time.Second, func() bool { return int(published.Load()) >= (v-1)*n/5 }, func() string { return "publisher stalled" })
		e.writeConfig("", map[string]string{"hook": hook(fmt.Sprint(v)), "other": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", other.URL)})
		start := time.Now()
		must(t, e.reload())
		reloads = append(reloads, time.Since(start))
	}
	<-done
	e.waitSettled("hook", n, 60*time.Second)
	e.waitSettled("other", n, 60*time.Second)
	e.checkSum("hook", n)
	e.checkSum("other", n)
	seen := map[string]int{}
	versions := map[string]int{}
	for _, r := range tl.all() {
		var b map[string]any
		must(t, json.Unmarshal(r.Body, &b))
		seen[b["messageId"].(string)]++
		versions[b["version"].(string)]++
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("reload durations %v; requests per config version %v; %d distinct, %d duplicates", reloads, versions, len(seen), dups)
	if len(seen) != n {
		t.Errorf("lost events: %d distinct of %d", len(seen), n)
	}
	if dups != 0 {
		t.Errorf("%d duplicates across reloads", dups)
	}
	if versions["5"] == 0 {
		t.Errorf("the last config never served: %v", versions)
	}
	if got := len(uniq(other.delivered())); got != n || len(other.all()) != n {
		t.Errorf("unchanged destination: %d distinct, %d requests, want %d each", got, len(other.all()), n)
	}
	if a := testutil.ToFloat64(e.r.Metrics().Reloads.WithLabelValues("applied")); a != 4 {
		t.Errorf("reloads applied = %v, want 4", a)
	}
}

func TestReloadRefusesABadConfigAndKeepsServing(t *testing.T) {
	tl := newTool(t, nil)
	good := fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL)
	e := newEnv(t, "", map[string]string{"hook": good})
	e.start()
	e.writeConfig("", map[string]string{"hook": "type: webhook\nsettings:\n  url: %s\nfilter: type ==\n"})
	err := e.reload()
	if !errors.Is(err, router.ErrRefused) {
		t.Fatalf("reload of a bad config: %v, want ErrRefused", err)
	}
	if r := testutil.ToFloat64(e.r.Metrics().Reloads.WithLabelValues("refused")); r != 1 {
		t.Errorf("refused = %v", r)
	}
	if !strings.Contains(e.logs.String(), "hook.yaml:3:") {
		t.Errorf("the refusal is not logged with file:line:col:\n%s", e.logs.String())
	}
	e.publish("web", track("after-bad", "u1", "Clicked", nil))
	e.waitSettled("hook", 1, 10*time.Second)
	if got := tl.delivered(); len(got) != 1 {
		t.Errorf("the old config stopped serving: %v", got)
	}
}

func TestReloadAddsAndRemovesDestinationsKeepingTheConsumer(t *testing.T) {
	a, b := newTool(t, nil), newTool(t, nil)
	da := fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", a.URL)
	db := fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", b.URL)
	e := newEnv(t, "reload:\n  removed_grace: 1h\n", map[string]string{"a": da})
	e.start()
	e.writeConfig("reload:\n  removed_grace: 1h\n", map[string]string{"a": da, "b": db})
	must(t, e.reload())
	e.publish("web", track("one", "u1", "Clicked", nil))
	e.waitSettled("b", 1, 10*time.Second)
	// Remove b: its consumer stays (with the grace period), so events
	// published meanwhile are delivered when b comes back.
	e.writeConfig("reload:\n  removed_grace: 1h\n", map[string]string{"a": da})
	must(t, e.reload())
	c, err := e.js.Consumer(context.Background(), router.EventsStream, router.ConsumerName("b"))
	must(t, err)
	if th := c.CachedInfo().Config.InactiveThreshold; th != time.Hour {
		t.Errorf("removed destination's consumer inactive threshold = %v, want the 1h grace", th)
	}
	e.publish("web", track("two", "u1", "Clicked", nil))
	e.waitSettled("a", 2, 10*time.Second)
	e.writeConfig("reload:\n  removed_grace: 1h\n", map[string]string{"a": da, "b": db})
	must(t, e.reload())
	waitFor(t, 10*time.Second, func() bool { return len(uniq(b.delivered())) == 2 }, func() string { return fmt.Sprint(b.delivered()) })
	c, err = e.js.Consumer(context.Background(), router.EventsStream, router.ConsumerName("b"))
	must(t, err)
	if th := c.CachedInfo().Config.InactiveThreshold; th != 0 {
		t.Errorf("re-added destination keeps a deletion threshold %v", th)
	}
}
