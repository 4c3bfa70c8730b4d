package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/console"
	"github.com/switchyard/switchyard/router/plan"
)

// world is one test's set-up: a real nats-server, a config directory, a
// router with the console mounted on its admin handler, and the admin
// handler served on a loopback port.
type world struct {
	t     *testing.T
	srv   *natstest.Server
	js    jetstream.JetStream
	dir   string
	r     *router.Router
	con   *console.Console
	admin *httptest.Server
}

// newWorld writes the config (global is switchyard.yaml without nats.url,
// dests maps a destination name to its file), starts the router and
// serves its admin handler with token as admin.token.
func newWorld(t *testing.T, global string, dests map[string]string, token string) *world {
	t.Helper()
	s := natstest.Start(t)
	w := &world{t: t, srv: s, dir: t.TempDir()}
	_, w.js = s.Connect(t)
	w.writeConfig(global, dests)
	must(t, router.EnsureStreams(context.Background(), w.js, config.Streams{}))
	cfg, diags := config.Load(w.dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, diags := plan.BuildToServe(cfg)
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.r = router.New(cfg, plans, router.Options{Logger: log, StopTimeout: 5 * time.Second,
		Console: func(r *router.Router, token string) http.Handler {
			// Without its sampler: the test records the samples it wants.
			w.con = console.New(r, token)
			return w.con
		}})
	must(t, w.r.Start(context.Background()))
	t.Cleanup(w.r.Stop)
	w.admin = httptest.NewServer(w.r.AdminHandler(token))
	t.Cleanup(w.admin.Close)
	return w
}

func (w *world) writeConfig(global string, dests map[string]string) {
	w.t.Helper()
	g := fmt.Sprintf("nats:\n  url: %s\n%s", w.srv.ClientURL(), global)
	must(w.t, os.WriteFile(filepath.Join(w.dir, "switchyard.yaml"), []byte(g), 0o644))
	dd := filepath.Join(w.dir, "destinations")
	must(w.t, os.MkdirAll(dd, 0o755))
	for name, body := range dests {
		must(w.t, os.WriteFile(filepath.Join(dd, name+".yaml"), []byte(body), 0o644))
	}
}

// publish sends one track event on events.<source>.track.
func (w *world) publish(source string, ev map[string]any) {
	w.t.Helper()
	data, err := json.Marshal(ev)
	must(w.t, err)
	m := nats.NewMsg("events." + source + "." + fmt.Sprint(ev["type"]))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint(ev["messageId"]))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = w.js.PublishMsg(ctx, m)
	must(w.t, err)
}

func track(id, user, event string) map[string]any {
	return map[string]any{"type": "track", "messageId": id, "userId": user, "event": event,
		"timestamp": "2026-11-28T12:00:00Z", "properties": map[string]any{"plan": "pro"}}
}

// count reads switchyard_events_total{destination,outcome}.
func (w *world) count(dest, outcome string) float64 {
	s, ok := w.r.DestinationStatusOf(dest)
	if !ok {
		return 0
	}
	return s.Counters.Outcomes[outcome]
}

// settled is the number of a destination's events with a final outcome.
func (w *world) settled(dest string) float64 {
	n := 0.0
	for _, o := range []string{"delivered", "filtered", "unmatched", "invalid", "dead_lettered"} {
		n += w.count(dest, o)
	}
	return n
}

// dlqSeqs lists a destination's dead letters, its own and the shared
// entries of invalid events naming it.
func (w *world) dlqSeqs(dest string) []uint64 {
	w.t.Helper()
	var seqs []uint64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(w.t, router.ListDeadLetters(ctx, w.js, dest, router.DLQSelect{}, func(seq uint64, _ *router.DeadLetter) bool {
		seqs = append(seqs, seq)
		return true
	}))
	return seqs
}

// get fetches a console path with the given headers.
func (w *world) get(path string, header ...string) (int, http.Header, string) {
	w.t.Helper()
	req, err := http.NewRequest("GET", w.admin.URL+path, nil)
	must(w.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(w.t, req)
}

// post sends a form to a console path with the given headers.
func (w *world) post(path string, form url.Values, header ...string) (int, http.Header, string) {
	w.t.Helper()
	req, err := http.NewRequest("POST", w.admin.URL+path, strings.NewReader(form.Encode()))
	must(w.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(w.t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	poll.Until(t, within, cond, msg)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tool is an httptest server standing in for a tool: respond decides each
// answer; every request is kept.
type tool struct {
	*httptest.Server
	mu       sync.Mutex
	requests []toolRequest
	respond  func(path string, body []byte) (int, string)
	header   http.Header // added to every answer
}

type toolRequest struct {
	Path   string
	Body   []byte
	Status int
}

func newTool(t *testing.T, respond func(path string, body []byte) (int, string)) *tool {
	tl := &tool{respond: respond}
	tl.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tl.mu.Lock()
		respond := tl.respond
		for k, vs := range tl.header {
			w.Header()[k] = vs
		}
		tl.mu.Unlock()
		status, resp := respond(r.URL.Path, body)
		tl.mu.Lock()
		tl.requests = append(tl.requests, toolRequest{Path: r.URL.Path, Body: body, Status: status})
		tl.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(tl.Close)
	return tl
}

func (tl *tool) setHeader(k, v string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.header == nil {
		tl.header = http.Header{}
	}
	tl.header.Set(k, v)
}

func (tl *tool) setRespond(f func(path string, body []byte) (int, string)) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.respond = f
}

// accepted lists the messageIds of the 2xx requests.
func (tl *tool) accepted() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var ids []string
	for _, r := range tl.requests {
		var body struct {
			ID string `json:"id"`
		}
		if r.Status/100 == 2 && json.Unmarshal(r.Body, &body) == nil {
			ids = append(ids, body.ID)
		}
	}
	return ids
}

func (tl *tool) count() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.requests)
}

// failingWorld is the scenario the browser and golden tests share, over a
// history of five minutes:
//
//   - crm, an http destination whose tool refuses the event "Bad" (422:
//     dead-lettered at once) and fails everything else with 503 until its
//     breaker opens; page views match none of its actions (unmatched);
//   - hook, a healthy webhook receiving everything;
//   - analytics, a webhook whose filter drops page views;
//   - legacy, a disabled webhook;
//   - an invalid event (no user id), invalid for all, stored once.
//
// The events are published in rounds, each settled before the console
// samples the counters, the samples stamped five seconds apart from five
// minutes ago: the windows and sparklines show five minutes of traffic,
// compressed into the test's second. crm settles each round too, up to the
// two events that open its breaker, which come last, after the last
// round's page views: an open breaker stops crm's pulls, so whatever came
// after them would stay pending or not, as the lane's timing fell (the
// golden files caught 9 page views pending once). It returns once crm's
// breaker is open, its dead letter stored and the two events that opened
// it nak'd.
func failingWorld(t *testing.T, token string) (w *world, crm, hook *tool) {
	t.Helper()
	t.Setenv("CRM_API_KEY", "sk-console-canary-0123456789")
	crm = newTool(t, func(path string, _ []byte) (int, string) {
		if strings.HasSuffix(path, "/bad") {
			return 422, `{"error":"unknown field plan"}`
		}
		return 503, `{"error":"maintenance"}`
	})
	hook = newTool(t, func(string, []byte) (int, string) { return 200, `{"ok":true}` })
	w = newWorld(t, "", map[string]string{
		"crm": fmt.Sprintf(`type: http
settings:
  api_key: ${CRM_API_KEY}
actions:
  send:
    trigger: type == "track" && event != "Page Viewed"
    url: '%s/v1/{{ event == "Bad" ? "bad" : "events" }}'
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      id: messageId
      event: event
      plan: properties.plan
delivery:
  attempts: 1
  breaker:
    failures: 2
    cooldown: 10m
  # No redelivery while the test runs: each event is sent once.
  backoff:
    initial: 1m
`, crm.URL),
		"hook":      fmt.Sprintf("type: webhook\nsettings:\n  url: %s/in\n", hook.URL),
		"analytics": fmt.Sprintf("type: webhook\nfilter: event != \"Page Viewed\"\nsettings:\n  url: %s/analytics\n", hook.URL),
		"legacy":    fmt.Sprintf("type: webhook\nenabled: false\nsettings:\n  url: %s/legacy\n", hook.URL),
	}, token)
	// The last round is sampled 20 s ago: the 5 minute window holds every
	// sample while the test takes less than 30 s.
	base := time.Now().Add(-270 * time.Second)
	w.con.Sample(base)
	published, down := 0, 0 // down: events crm fails with 503, never final here
	round := func(i int, evs ...map[string]any) {
		for _, ev := range evs {
			w.publish("web", ev)
			if strings.HasPrefix(ev["messageId"].(string), "down-") {
				down++
			}
		}
		published += len(evs)
		for _, d := range []string{"hook", "analytics", "crm"} {
			want := published
			if d == "crm" {
				want -= down
			}
			waitFor(t, 10*time.Second, func() bool { return w.settled(d) == float64(want) },
				func() string { return fmt.Sprintf("%s settled %v of %d", d, w.settled(d), want) })
		}
		w.con.Sample(base.Add(time.Duration(i) * 5 * time.Second))
	}
	for i := 1; i <= 50; i++ {
		var evs []map[string]any
		for j := range 2 + i%4 {
			evs = append(evs, track(fmt.Sprintf("pv-%d-%d", i, j), fmt.Sprintf("user-%d", 1000+j), "Page Viewed"))
		}
		switch i {
		case 44:
			evs = append(evs, track("bad-1", "user-1001", "Bad"))
		case 45:
			// Not a Segment event: no userId nor anonymousId. Invalid for
			// every destination, stored once.
			evs = append(evs, map[string]any{"type": "track", "messageId": "inv-1", "event": "Signed Up"})
		case 50:
			evs = append(evs, track("down-1", "user-1001", "Signed Up"), track("down-2", "user-1002", "Signed Up"))
		}
		round(i, evs...)
		if i == 44 {
			waitFor(t, 10*time.Second, func() bool { return w.count("crm", "dead_lettered") == 1 }, func() string { return "bad-1 not dead-lettered" })
		}
	}
	// The breaker opens inside the send of down-2, before its lane has
	// seen the 503: the state alone does not say that down-2 was counted
	// retried, sampled and nak'd (the golden files pin retried 2, held 0,
	// retrying 2 and the 503 as the last failure). Wait for those too.
	held := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := w.r.Consumer(ctx, "crm")
		if err != nil {
			return -1
		}
		return c.Held
	}
	waitFor(t, 10*time.Second, func() bool {
		s, _ := w.r.DestinationStatusOf("crm")
		return s.State == router.StateOpen && w.count("crm", "retried") == 2 && held() == 0
	}, func() string {
		s, _ := w.r.DestinationStatusOf("crm")
		return fmt.Sprintf("crm breaker %s, retried %v, held %d", s.Breaker, w.count("crm", "retried"), held())
	})
	return w, crm, hook
}
