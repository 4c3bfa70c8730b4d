package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// env is one test's world: a real nats-server, a config directory and a
// running router.
type env struct {
	t    *testing.T
	srv  *natstest.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	dir  string
	r    *router.Router
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newEnv starts NATS and writes a config: global is switchyard.yaml
// (nats.url is added), dests maps destination name to file content.
func newEnv(t *testing.T, global string, dests map[string]string) *env {
	t.Helper()
	s := natstest.Start(t)
	e := &env{t: t, srv: s, dir: t.TempDir(), logs: &lockedBuffer{}}
	e.nc, e.js = s.Connect(t)
	e.writeConfig(global, dests)
	// Collectors may publish before the router first starts.
	must(t, router.EnsureStreams(context.Background(), e.js, config.Streams{}))
	return e
}

func (e *env) writeConfig(global string, dests map[string]string) {
	e.t.Helper()
	g := fmt.Sprintf("nats:\n  url: %s\n%s", e.srv.ClientURL(), global)
	must(e.t, os.WriteFile(filepath.Join(e.dir, "switchyard.yaml"), []byte(g), 0o644))
	dd := filepath.Join(e.dir, "destinations")
	must(e.t, os.MkdirAll(dd, 0o755))
	old, _ := filepath.Glob(filepath.Join(dd, "*.yaml"))
	for _, f := range old {
		must(e.t, os.Remove(f))
	}
	for name, body := range dests {
		must(e.t, os.WriteFile(filepath.Join(dd, name+".yaml"), []byte(body), 0o644))
	}
}

func (e *env) load() (*config.Config, map[string]*plan.Plan) {
	e.t.Helper()
	cfg, diags := config.Load(e.dir, config.Options{})
	if diags.Err() != nil {
		e.t.Fatal(diags)
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		e.t.Fatal(diags)
	}
	return cfg, plans
}

// start runs a router on the config; it is stopped when the test ends.
func (e *env) start() *router.Router {
	e.t.Helper()
	return e.startOpts(router.Options{})
}

// startOpts is start with options (the logger and the stop timeout are
// the harness's).
func (e *env) startOpts(opts router.Options) *router.Router {
	e.t.Helper()
	cfg, plans := e.load()
	opts.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(e.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.StopTimeout = 5 * time.Second
	r := router.New(cfg, plans, opts)
	must(e.t, r.Start(context.Background()))
	e.r = r
	e.t.Cleanup(func() { r.Stop() })
	return r
}

// publish sends one event on events.<source>.<type> with its messageId as
// Nats-Msg-Id.
func (e *env) publish(source string, ev map[string]any) {
	e.t.Helper()
	data, err := json.Marshal(ev)
	must(e.t, err)
	typ, _ := ev["type"].(string)
	e.publishRaw("events."+source+"."+typ, fmt.Sprint(ev["messageId"]), data)
}

func (e *env) publishRaw(subject, id string, data []byte) {
	e.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = data
	if id != "" {
		m.Header.Set(jetstream.MsgIDHeader, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.js.PublishMsg(ctx, m)
	must(e.t, err)
}

// count reads switchyard_events_total{destination,outcome}.
func (e *env) count(dest string, o router.Outcome) int {
	return int(testutil.ToFloat64(e.r.Metrics().Events.WithLabelValues(dest, string(o))))
}

// settled is delivered + filtered + unmatched + invalid + dead_lettered.
func (e *env) settled(dest string) int {
	n := 0
	for _, o := range []router.Outcome{router.Delivered, router.Filtered, router.Unmatched, router.Invalid, router.DeadLettered} {
		n += e.count(dest, o)
	}
	return n
}

// waitSettled waits until n events of dest have a final outcome.
func (e *env) waitSettled(dest string, n int, within time.Duration) {
	e.t.Helper()
	waitFor(e.t, within, func() bool { return e.settled(dest) >= n }, func() string {
		return fmt.Sprintf("%s settled %d of %d: %s", dest, e.settled(dest), n, e.outcomes(dest))
	})
}

func (e *env) outcomes(dest string) string {
	var parts []string
	for _, o := range []router.Outcome{router.Delivered, router.Filtered, router.Unmatched, router.Invalid, router.DeadLettered, router.Retried} {
		parts = append(parts, fmt.Sprintf("%s=%d", o, e.count(dest, o)))
	}
	return strings.Join(parts, " ")
}

// dlq reads every dead letter of a destination.
// dlq is a destination's view of the DLQ, as `switchyard dlq list` shows
// it: its own entries and the shared entries of invalid events naming it.
func (e *env) dlq(dest string) []*router.DeadLetter {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*router.DeadLetter
	must(e.t, router.ListDeadLetters(ctx, e.js, dest, router.DLQSelect{}, func(_ uint64, dl *router.DeadLetter) bool {
		out = append(out, dl)
		return true
	}))
	return out
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

// tool is an httptest server standing in for a receiving tool. Its
// behaviour is a function of the request number, so tests can make it fail
// N times, answer 429, hang, and so on.
type tool struct {
	*httptest.Server
	mu       sync.Mutex
	requests []toolRequest
	respond  func(n int, r *http.Request, body []byte) (status int, header http.Header, resp string)
}

type toolRequest struct {
	At     time.Time
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Status int
}

func newTool(t *testing.T, respond func(n int, r *http.Request, body []byte) (int, http.Header, string)) *tool {
	tl := &tool{respond: respond}
	if tl.respond == nil {
		tl.respond = func(int, *http.Request, []byte) (int, http.Header, string) { return 200, nil, `{"ok":true}` }
	}
	tl.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tl.mu.Lock()
		n := len(tl.requests)
		tl.requests = append(tl.requests, toolRequest{At: time.Now(), Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
		tl.mu.Unlock()
		status, h, resp := tl.respond(n, r, body)
		tl.mu.Lock()
		tl.requests[n].Status = status
		tl.mu.Unlock()
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(tl.Close)
	return tl
}

func (tl *tool) all() []toolRequest {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]toolRequest{}, tl.requests...)
}

// delivered lists the messageIds the tool accepted (2xx), parsed from
// forwarded event bodies or batches of them.
func (tl *tool) delivered() []string {
	var ids []string
	for _, r := range tl.all() {
		if r.Status < 200 || r.Status > 299 {
			continue
		}
		var one map[string]any
		if json.Unmarshal(r.Body, &one) == nil {
			if id, ok := one["messageId"].(string); ok {
				ids = append(ids, id)
			}
			continue
		}
		var many []map[string]any
		if json.Unmarshal(r.Body, &many) == nil {
			for _, m := range many {
				if id, ok := m["messageId"].(string); ok {
					ids = append(ids, id)
				}
			}
		}
	}
	sort.Strings(ids)
	return ids
}

func uniq(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func track(id, user, event string, props map[string]any) map[string]any {
	return map[string]any{"type": "track", "messageId": id, "userId": user, "event": event, "properties": props}
}
