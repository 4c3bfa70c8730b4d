package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var binPath string

// testVersion and testCommit are stamped into the binary under test.
var (
	testVersion = "v0.0.0-e2e"
	testCommit  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "switchyard")
	// Stamped as the Makefile stamps it, so --version can be checked.
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		testCommit = strings.TrimSpace(string(out))
	}
	build := exec.Command("go", "build", "-race", "-ldflags", "-X main.version="+testVersion+" -X main.commit="+testCommit, "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building the binary: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port for a child binary to listen on. A port
// the kernel handed to net.Listen(":0") and that was closed again can be
// handed to any other program binding :0 before the child binds it (the
// tests' own NATS servers and tools do). So the port comes from below the
// kernel's ephemeral range, where nothing binding :0 ever lands, is checked
// free, and is never handed out twice by this process.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the start of the kernel's ephemeral port range (Linux:
// /proc/sys/net/ipv4/ip_local_port_range; 32768 elsewhere).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n == 2 && lo > 11000 {
			low = lo
		}
	}
	return low
}

// recorder is a tool receiving requests.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
	fail func(n int) int // status for the n-th request; nil: 200
}

type recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	Status       int
}

func newRecorder(t *testing.T) *recorder {
	rc := &recorder{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		fail := rc.fail
		rc.mu.Unlock()
		status := 200
		if fail != nil {
			status = fail(n)
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), b, status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded{}, rc.reqs...)
}

// instance is a running switchyard binary.
type instance struct {
	t     *testing.T
	cmd   *exec.Cmd
	admin string
	nats  string
	out   *safeBuffer
	done  chan struct{}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// quickstartCopy copies examples/quickstart into a temp dir, pointing its
// destinations at the recorder and its listeners (NATS, admin, the HTTP
// intake) at free ports.
func quickstartCopy(t *testing.T, sinkURL string, extraGlobal string) (dir string, natsPort, adminPort int) {
	dir, natsPort, adminPort, _ = quickstartCopyWithIngest(t, sinkURL, extraGlobal)
	return dir, natsPort, adminPort
}

func quickstartCopyWithIngest(t *testing.T, sinkURL string, extraGlobal string) (dir string, natsPort, adminPort, ingestPort int) {
	t.Helper()
	dir = t.TempDir()
	src := filepath.Join("..", "..", "examples", "quickstart")
	natsPort, adminPort, ingestPort = freePort(t), freePort(t), freePort(t)
	const intakeOn = "ingest:\n  enabled: true\n"
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("http://127.0.0.1:9000"), []byte(sinkURL))
		if rel == "switchyard.yaml" {
			// The quickstart turns the intake on at its default address.
			if !bytes.Contains(b, []byte(intakeOn)) {
				return fmt.Errorf("%s does not turn the HTTP intake on with %q", p, intakeOn)
			}
			b = bytes.Replace(b, []byte(intakeOn), []byte(fmt.Sprintf("%s  listen: 127.0.0.1:%d\n", intakeOn, ingestPort)), 1)
			// The quickstart sets admin.token: the admin port goes into its
			// admin block.
			if !bytes.Contains(b, []byte("\nadmin:\n")) {
				return fmt.Errorf("%s has no admin block", p)
			}
			b = bytes.Replace(b, []byte("\nadmin:\n"), []byte(fmt.Sprintf("\nadmin:\n  listen: 127.0.0.1:%d\n", adminPort)), 1)
			b = append(b, []byte(fmt.Sprintf("\nnats:\n  embedded:\n    listen: 127.0.0.1:%d\n%s", natsPort, extraGlobal))...)
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, natsPort, adminPort, ingestPort
}

func startBinary(t *testing.T, configDir, dataDir string, natsPort, adminPort int, env ...string) *instance {
	t.Helper()
	in := &instance{t: t, admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort), nats: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), out: &safeBuffer{}, done: make(chan struct{})}
	in.cmd = exec.Command(binPath, "serve", "--config", configDir, "--data", dataDir, "--stop-timeout", "5s")
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	in.cmd.Env = append(os.Environ(), env...)
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() { in.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(in.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in
			}
		}
		select {
		case <-in.done:
			t.Fatalf("switchyard exited early:\n%s", in.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchyard not ready:\n%s", in.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *instance) kill() {
	if in.cmd.Process != nil {
		_ = in.cmd.Process.Kill()
	}
	<-in.done
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.t.Fatalf("no exit after SIGTERM:\n%s", in.out.String())
	}
	if code := in.cmd.ProcessState.ExitCode(); code != 0 {
		in.t.Fatalf("exit code %d after SIGTERM:\n%s", code, in.out.String())
	}
}

var metricLine = regexp.MustCompile(`^switchyard_events_total\{destination="([^"]+)",outcome="([^"]+)"\} (\S+)$`)

// metrics reads switchyard_events_total from /metrics.
func (in *instance) metrics() map[string]map[string]int {
	in.t.Helper()
	resp, err := http.Get(in.admin + "/metrics")
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			if out[m[1]] == nil {
				out[m[1]] = map[string]int{}
			}
			v, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]][m[2]] = int(v)
		}
	}
	return out
}

func settledOf(m map[string]int) int {
	return m["delivered"] + m["filtered"] + m["unmatched"] + m["invalid"] + m["dead_lettered"]
}

func publish(t *testing.T, url string, subject string, events ...string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for _, ev := range events {
		var m map[string]any
		if err := json.Unmarshal([]byte(ev), &m); err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(subject + "." + m["type"].(string))
		msg.Data = []byte(ev)
		msg.Header.Set(jetstream.MsgIDHeader, m["messageId"].(string))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.PublishMsg(ctx, msg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func waitUntil(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", msg())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// The quickstart, driven as a newcomer would: the binary with embedded NATS
// on the example config, events published with nats.go, mapped requests at
// the tool, and /metrics adding up.
func TestQuickstartEndToEnd(t *testing.T) {
	rec := newRecorder(t)
	dir, natsPort, adminPort := quickstartCopy(t, rec.URL, "")
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)
	events, err := os.ReadFile(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(events)), "\n")
	publish(t, in.nats, "events.web", lines...)
	waitUntil(t, 20*time.Second, func() bool {
		m := in.metrics()
		return settledOf(m["crm"]) == len(lines) && settledOf(m["raw-webhook"]) == len(lines)
	}, func() string { return fmt.Sprintf("%v\n%s", in.metrics(), in.out.String()) })
	m := in.metrics()
	if m["crm"]["delivered"] != 2 || m["crm"]["unmatched"] != 1 || m["raw-webhook"]["delivered"] != 3 {
		t.Errorf("metrics: %v", m)
	}
	var purchases, profiles int
	for _, r := range rec.all() {
		switch {
		case r.Path == "/crm/purchases":
			purchases++
			var b map[string]any
			_ = json.Unmarshal(r.Body, &b)
			if b["currency"] != "EUR" || b["order_id"] != "o-1001" {
				t.Errorf("purchase body %s", r.Body)
			}
		case r.Path == "/crm/profiles/user-42":
			profiles++
			if r.Method != "PUT" || !strings.Contains(string(r.Body), `"email":"Ada@Example.com"`) {
				t.Errorf("profile %s %s", r.Method, r.Body)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer demo-key-not-secret" {
				t.Errorf("Authorization = %q", got)
			}
		}
	}
	if purchases != 2 || profiles != 1 {
		t.Errorf("purchases %d (want one per product: 2), profiles %d", purchases, profiles)
	}
	in.stop()
}

func TestValidateCLIReportsPositionsAndExitCode(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("sources:\n  - name: web\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "destinations", "a.yaml"), []byte("type: http\nsources: [web]\nactions:\n  a:\n    trigger: type == \"track\" && evnt\n    url: https://x.test\n    fields: {a: userId}\ndelivery:\n  timout: 1s\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "destinations", "b.yaml"), []byte("name: a\ntype: webhook\nsettings: {url: https://x.test}\n"), 0o644))
	cmd := exec.Command(binPath, "validate", "--config", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit code %d (err %v), want 1\n%s%s", cmd.ProcessState.ExitCode(), err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		filepath.Join(dir, "destinations", "a.yaml") + `:9:3: unknown key "timout" in delivery; did you mean "timeout"?`,
		filepath.Join(dir, "destinations", "a.yaml") + `:5:33: actions.a.trigger: unknown name evnt`,
		filepath.Join(dir, "destinations", "b.yaml") + `:1:7: destination name "a" is already used`,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want) {
			t.Errorf("missing line %q in:\n%s", want, out)
		}
	}
	ok := exec.Command(binPath, "validate", "--config", filepath.Join("..", "..", "examples", "quickstart"))
	if b, err := ok.CombinedOutput(); err != nil {
		t.Errorf("quickstart does not validate: %v\n%s", err, b)
	}
}

func writeConfig(t *testing.T, global string, dests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte(global), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range dests {
		if err := os.WriteFile(filepath.Join(dir, "destinations", name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

func trackEvents(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`{"type":"track","messageId":"%s-%04d","userId":"u%d","event":"Order Completed","properties":{"revenue":%d}}`, prefix, i, i%7, i))
	}
	return out
}

func distinctIDs(reqs []recorded) map[string]bool {
	ids := map[string]bool{}
	for _, r := range reqs {
		if r.Status < 200 || r.Status > 299 {
			continue
		}
		var many []map[string]any
		if json.Unmarshal(r.Body, &many) == nil {
			for _, m := range many {
				ids[fmt.Sprint(m["messageId"])] = true
			}
			continue
		}
		var one map[string]any
		if json.Unmarshal(r.Body, &one) == nil {
			ids[fmt.Sprint(one["messageId"])] = true
		}
	}
	return ids
}

// The retry window closes while the tool is down; once it is back, an
// operator replays the DLQ and every event arrives, and the DLQ is empty.
func TestDLQReplayDeliversAfterTheToolRecovers(t *testing.T) {
	rec := newRecorder(t)
	var down sync.Map
	down.Store("on", true)
	rec.fail = func(int) int {
		if v, _ := down.Load("on"); v == true {
			return 503
		}
		return 200
	}
	natsPort, adminPort := freePort(t), freePort(t)
	dir := writeConfig(t, fmt.Sprintf("nats:\n  embedded:\n    listen: 127.0.0.1:%d\nadmin:\n  listen: 127.0.0.1:%d\n", natsPort, adminPort), map[string]string{
		"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/hook\ndelivery:\n  attempts: 1\n  retry_window: 1s\n  backoff: {initial: 100ms, max: 300ms}\n  breaker: {failures: 1000}\n", rec.URL),
	})
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)
	events := trackEvents("w", 20)
	publish(t, in.nats, "events.web", events...)
	waitUntil(t, 30*time.Second, func() bool { return in.metrics()["hook"]["dead_lettered"] == 20 }, func() string { return fmt.Sprint(in.metrics()) })

	out, code := runCLI(t, "dlq", "list", "--config", dir, "--destination", "hook")
	if code != 0 || strings.Count(out, "retry window of 1s closed") != 20 {
		t.Fatalf("dlq list (exit %d):\n%s", code, out)
	}
	down.Store("on", false)
	out, code = runCLI(t, "dlq", "replay", "--config", dir, "--destination", "hook")
	if code != 0 || !strings.Contains(out, "replayed 20 dead letter(s)") || !strings.Contains(out, "these counts are this command's own") {
		t.Fatalf("dlq replay (exit %d):\n%s", code, out)
	}
	if ids := distinctIDs(rec.all()); len(ids) != 20 {
		t.Errorf("tool saw %d distinct events", len(ids))
	}
	out, _ = runCLI(t, "dlq", "list", "--config", dir, "--destination", "hook")
	if !strings.Contains(out, "0 dead letter(s)") {
		t.Errorf("DLQ not empty after replay:\n%s", out)
	}
	in.stop()
}

// SIGKILL in the middle of batches: after a restart every event is
// delivered at least once.
func TestKilledMidBatchDeliversEverythingAfterRestart(t *testing.T) {
	rec := newRecorder(t)
	rec.fail = func(n int) int {
		time.Sleep(20 * time.Millisecond) // slow enough to be killed mid-flight
		return 200
	}
	natsPort, adminPort := freePort(t), freePort(t)
	dir := writeConfig(t, fmt.Sprintf("nats:\n  embedded:\n    listen: 127.0.0.1:%d\nadmin:\n  listen: 127.0.0.1:%d\n", natsPort, adminPort), map[string]string{
		"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/hook\ndelivery:\n  batch: {max_items: 50, linger: 100ms}\n  rate: {concurrency: 2}\n", rec.URL),
	})
	data := t.TempDir()
	in := startBinary(t, dir, data, natsPort, adminPort)
	const n = 3000
	publish(t, in.nats, "events.web", trackEvents("k", n)...)
	waitUntil(t, 30*time.Second, func() bool { return len(rec.all()) >= 5 }, func() string { return "no batch arrived" })
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
	before := len(distinctIDs(rec.all()))
	in2 := startBinary(t, dir, data, natsPort, adminPort)
	waitUntil(t, 90*time.Second, func() bool { return len(distinctIDs(rec.all())) == n }, func() string {
		return fmt.Sprintf("%d of %d distinct events delivered (%d before the kill)", len(distinctIDs(rec.all())), n, before)
	})
	t.Logf("delivered before SIGKILL: %d of %d", before, n)
	in2.stop()
}

// An operator backfills with `publish`, then re-sends the last hour to one
// destination with `replay`; the other destination is untouched.
func TestPublishThenReplayToOneDestination(t *testing.T) {
	a, b := newRecorder(t), newRecorder(t)
	natsPort, adminPort := freePort(t), freePort(t)
	dir := writeConfig(t, fmt.Sprintf("nats:\n  embedded:\n    listen: 127.0.0.1:%d\nadmin:\n  listen: 127.0.0.1:%d\nsources:\n  - name: web\n", natsPort, adminPort), map[string]string{
		"a": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/a\n", a.URL),
		"b": fmt.Sprintf("type: webhook\nfilter: event != \"Skip\"\nsettings:\n  url: %s/b\n", b.URL),
	})
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)
	input := filepath.Join(t.TempDir(), "backfill.ndjson")
	lines := []string{
		`{"type":"track","messageId":"p-1","userId":"u1","event":"One"}`,
		`{"type":"track","messageId":"p-2","userId":"u1","event":"Skip"}`,
		`{"type":"track","messageId":"p-1","userId":"u1","event":"One again"}`,
		`{"type":"track","userId":"u1","event":"No id"}`,
		`{"type":"track","messageId":"p-4","event":"No user"}`,
		`not json`,
	}
	if err := os.WriteFile(input, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "publish", "--config", dir, "--source", "web", input)
	if code != 1 || !strings.Contains(out, "published 3, duplicates 1, rejected 1") || !strings.Contains(out, "neither userId nor anonymousId is set (events #5)") || !strings.Contains(out, "event #6 (byte 295): not JSON") {
		t.Fatalf("publish (exit %d):\n%s", code, out)
	}
	waitUntil(t, 10*time.Second, func() bool { return settledOf(in.metrics()["b"]) == 3 && settledOf(in.metrics()["a"]) == 3 }, func() string { return fmt.Sprint(in.metrics()) })
	if got := len(a.all()); got != 3 {
		t.Fatalf("a got %d requests", got)
	}
	out, code = runCLI(t, "replay", "--config", dir, "--destination", "b", "--since", "1h")
	if code != 0 || !strings.Contains(out, "replayed 3 event(s) to b (this command's own counts): delivered 2, filtered 1") {
		t.Fatalf("replay (exit %d):\n%s", code, out)
	}
	// The replay ran in the CLI: it says its counts are its own, and the
	// router's stay as they were.
	if !strings.Contains(out, "these counts are this command's own") {
		t.Errorf("replay does not say whose counts it prints:\n%s", out)
	}
	if m := in.metrics()["b"]; settledOf(m) != 3 || m["delivered"] != 2 {
		t.Errorf("the router counted the CLI's replay: %v", m)
	}
	if got := len(b.all()); got != 4 {
		t.Errorf("b got %d requests, want 2 live + 2 replayed", got)
	}
	if got := len(a.all()); got != 3 {
		t.Errorf("replay to b touched a: %d requests", got)
	}
	in.stop()
}
