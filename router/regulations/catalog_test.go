package regulations_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// The catalog's delete actions are checked end to end against their real
// endpoints: every HTTPS request of this test binary goes through tools, a
// proxy that accepts any CONNECT and answers with the test's fake tool,
// over TLS (the destinations turn verification off). So a deletion leaves
// the router exactly as it would for Braze or Klaviyo, through the same
// sender, and the test sees its host, path, headers and body.
var tools = newToolProxy()

func TestMain(m *testing.M) {
	// Requests to loopback are never proxied (http.ProxyFromEnvironment),
	// so NATS and local servers are untouched.
	os.Setenv("HTTPS_PROXY", tools.url)
	os.Unsetenv("https_proxy")
	os.Unsetenv("NO_PROXY")
	os.Unsetenv("no_proxy")
	code := m.Run()
	tools.close()
	os.Exit(code)
}

// toolProxy is an HTTPS proxy standing in for every tool.
type toolProxy struct {
	url   string
	proxy *httptest.Server
	tls   *httptest.Server
	conns chan net.Conn

	mu      sync.Mutex
	handler http.Handler // the running test's tools; nil: refuse
}

func newToolProxy() *toolProxy {
	p := &toolProxy{conns: make(chan net.Conn)}
	p.tls = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		h := p.handler
		p.mu.Unlock()
		if h == nil {
			http.Error(w, "no tool in this test", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	p.tls.Listener = &chanListener{conns: p.conns, done: make(chan struct{})}
	p.tls.StartTLS()
	p.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = buf.Flush()
		p.conns <- &bufConn{Conn: conn, r: buf.Reader}
	}))
	p.url = p.proxy.URL
	return p
}

func (p *toolProxy) serve(h http.Handler) func() {
	p.mu.Lock()
	p.handler = h
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.handler = nil
		p.mu.Unlock()
	}
}

func (p *toolProxy) close() {
	p.proxy.Close()
	p.tls.Close()
}

// chanListener hands the TLS server the connections CONNECT opened.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bufConn reads what the hijack's reader already buffered first.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// seenRequest is one request a tool received.
type seenRequest struct {
	Method, URL string
	Header      http.Header
	Body        []byte
}

var envRef = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// TestEveryCatalogDeleteReachesItsTool runs each golden delete case of the
// catalog (destinations/catalog/<tool>/testdata/<case>/deletion.json)
// through a running router: the regulation is submitted as an operator
// does, the router takes the task and sends it through the destination's
// sender to the tool's real endpoint, and what the tool receives must be
// what the golden expected.json says: method, URL, headers and body, with
// the batching of the users, each lookup answered as answers.json says.
func TestEveryCatalogDeleteReachesItsTool(t *testing.T) {
	catalogDir := filepath.Join("..", "..", "destinations", "catalog")
	cases, _ := filepath.Glob(filepath.Join(catalogDir, "*", "testdata", "*", "deletion.json"))
	type goldenCase struct {
		name     string
		dir      string
		deletion plan.Deletion
		expected plan.DeletionPreview
		answers  map[string]json.RawMessage
	}
	var runnable []goldenCase
	dests := map[string]string{}
	for _, in := range cases {
		dir := filepath.Dir(in)
		name := strings.ReplaceAll(filepath.Base(filepath.Dir(filepath.Dir(dir)))+"_"+filepath.Base(dir), "-", "_")
		gc := goldenCase{name: name, dir: dir}
		readJSON(t, in, &gc.deletion)
		readJSON(t, filepath.Join(dir, "expected.json"), &gc.expected)
		if _, err := os.Stat(filepath.Join(dir, "answers.json")); err == nil {
			readJSON(t, filepath.Join(dir, "answers.json"), &gc.answers)
		}
		sends := false
		for _, st := range gc.expected.Requests {
			sends = sends || st.Request != nil
		}
		if !sends {
			continue // unsupported, or failing before any request: the plan tests cover it
		}
		dest, err := os.ReadFile(filepath.Join(dir, "destination.yaml"))
		must(t, err)
		for _, m := range envRef.FindAllStringSubmatch(string(dest), -1) {
			// The fakes the golden cases render with (router/plan's goldenEnv).
			t.Setenv(m[1], "test-"+strings.ReplaceAll(strings.ToLower(m[1]), "_", "-"))
		}
		dests[name] = string(dest) + "delivery:\n  insecure_skip_verify: true\n  attempts: 1\n  backoff: {initial: 50ms, max: 100ms}\n"
		runnable = append(runnable, gc)
	}
	if len(runnable) < 15 {
		t.Fatalf("only %d golden delete cases send a request", len(runnable))
	}

	var mu sync.Mutex
	var seen []seenRequest
	var lookups []json.RawMessage // answers of the running case, in order
	stop := tools.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{Method: r.Method, URL: "https://" + r.Host + r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
		var answer json.RawMessage
		if strings.Contains(r.URL.Path, "search") || strings.HasSuffix(r.URL.Path, "/api/profiles") {
			if len(lookups) > 0 {
				answer, lookups = lookups[0], lookups[1:]
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if answer == nil {
			answer = json.RawMessage(`{}`)
		}
		_, _ = w.Write(answer)
	}))
	defer stop()

	r := startRouter(t, dests)
	for _, gc := range runnable {
		t.Run(gc.name, func(t *testing.T) {
			mu.Lock()
			seen, lookups = nil, nil
			keys := make([]string, 0, len(gc.answers))
			for k := range gc.answers {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return chunkIndex(keys[i]) < chunkIndex(keys[j]) })
			for _, k := range keys {
				lookups = append(lookups, gc.answers[k])
			}
			mu.Unlock()
			reg := &regulations.Regulation{Type: regulations.Type(gc.deletion.Type), Users: gc.deletion.Users, Reason: gc.deletion.Reason,
				Destinations: []string{gc.name}, RequestedBy: "test"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := r.SubmitRegulation(ctx, reg)
			must(t, err)
			waitFor(t, 30*time.Second, func() bool {
				rep, err = r.Regulations().Report(ctx, reg.ID)
				return err == nil && rep.Status != regulations.Pending && rep.Status != regulations.Running
			}, func() string { return fmt.Sprintf("%+v", rep) })
			if rep.Status != regulations.Finished {
				t.Fatalf("status %s: %+v", rep.Status, rep.Deletions)
			}
			var want []plan.PreviewRequest
			for _, st := range gc.expected.Requests {
				if st.Lookup != nil {
					want = append(want, *st.Lookup)
				}
				if st.Request != nil {
					want = append(want, *st.Request)
				}
			}
			mu.Lock()
			got := append([]seenRequest(nil), seen...)
			mu.Unlock()
			if len(got) != len(want) {
				t.Fatalf("the tool got %d requests, the golden case renders %d:\n%+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				if g.Method != w.Method || g.URL != w.URL {
					t.Errorf("request %d: %s %s, want %s %s", i, g.Method, g.URL, w.Method, w.URL)
				}
				for k, v := range w.Headers {
					if got := g.Header.Get(k); got != v {
						t.Errorf("request %d: header %s %q, want %q", i, k, got, v)
					}
				}
				wantBody := []byte("null")
				if w.Body != nil {
					b, _ := json.Marshal(w.Body)
					// The golden regulation's id, where the body names it.
					wantBody = []byte(strings.ReplaceAll(string(b), gc.deletion.Regulation, reg.ID))
				}
				if !sameJSON(g.Body, wantBody) {
					t.Errorf("request %d: body\n%s\nwant\n%s", i, g.Body, wantBody)
				}
			}
		})
	}
}

func chunkIndex(key string) int {
	var n int
	_, _ = fmt.Sscanf(key[strings.LastIndex(key, "#")+1:], "%d", &n)
	return n
}

func sameJSON(got, want []byte) bool {
	if len(got) == 0 {
		got = []byte("null")
	}
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// startRouter runs a router over its own NATS with these destinations.
func startRouter(t *testing.T, dests map[string]string) *router.Router {
	t.Helper()
	_, srv := openStore(t)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), fmt.Appendf(nil, "nats:\n  url: %s\n", srv.ClientURL()), 0o644))
	for name, body := range dests {
		must(t, os.WriteFile(filepath.Join(dir, "destinations", name+".yaml"), []byte(body), 0o644))
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, diags := plan.BuildToServe(cfg)
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	r := router.New(cfg, plans, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StopTimeout: 5 * time.Second})
	must(t, r.Start(context.Background()))
	t.Cleanup(r.Stop)
	return r
}
