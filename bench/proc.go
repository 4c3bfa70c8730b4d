package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat times.
const clockTicks = 100

// routerRun is one running router: the switchyard binary as a child
// process, or (with -inprocess) router.New in the bench process.
type routerRun interface {
	// cpu is the CPU time (user + system) used so far.
	cpu() time.Duration
	// rss and hwm are the resident set size now and at its peak, in KiB.
	rss() (now, peak int64)
	// metrics scrapes the Prometheus text of the router.
	metrics() (string, error)
	// stop stops the router gracefully and returns its peak RSS (KiB).
	stop() int64
	label() string
}

// writeConfig writes a config directory for one destination.
func writeConfig(dir, natsURL, adminListen, destName, dest string) error {
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		return err
	}
	global := fmt.Sprintf("nats:\n  url: %s\n  name: switchyard-bench\nadmin:\n  listen: %s\nlog:\n  level: warn\n", natsURL, adminListen)
	if err := os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte(global), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "destinations", destName+".yaml"), []byte(dest), 0o644)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildBinary builds ./cmd/switchyard as the operator's binary (no race
// detector, default flags).
func buildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "switchyard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchyard")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/switchyard (run make bench from the repository root): %w", err)
	}
	return bin, nil
}

// child is the switchyard binary running `serve`.
type child struct {
	cmd     *exec.Cmd
	admin   string
	logPath string
	exited  chan struct{}
}

// counts is what the bench reads of a router child around a drain: every
// thread's context switches, its minor page faults, and its garbage
// collections (go_gc_duration_seconds_count from its /metrics). -1 is
// not counted: an in-process router, or /metrics did not answer.
type counts struct{ switches, faults, gcs int64 }

func countsOf(r routerRun) counts {
	c, ok := r.(*child)
	if !ok {
		return counts{-1, -1, -1}
	}
	n := counts{switches: ctxSwitches(c.cmd.Process.Pid), faults: c.minorFaults(), gcs: -1}
	if text, err := c.metrics(); err == nil {
		if v, ok := metricValue(text, "go_gc_duration_seconds_count", ""); ok {
			n.gcs = int64(v)
		}
	}
	return n
}

// to is what was counted from a to b.
func (a counts) to(b counts) counts {
	d := func(x, y int64) int64 {
		if x < 0 || y < 0 {
			return -1
		}
		return y - x
	}
	return counts{d(a.switches, b.switches), d(a.faults, b.faults), d(a.gcs, b.gcs)}
}

func startChild(ctx context.Context, bin, cfgDir, dataDir, admin string) (*child, error) {
	logPath := filepath.Join(filepath.Dir(cfgDir), filepath.Base(cfgDir)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgDir, "--data", dataDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// nats.url must win: drop an inherited SWITCHYARD_NATS_URL.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_NATS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// -router-env comes last: it wins over the same variable inherited.
	cmd.Env = append(cmd.Env, routerEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c := &child{cmd: cmd, admin: admin, logPath: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.exited) }()
	// Ready: lanes are pulling.
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-c.exited:
			return nil, fmt.Errorf("switchyard exited at start; log %s:\n%s", logPath, tail(logPath))
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		default:
		}
		resp, err := client.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("switchyard not ready after 30s; log %s:\n%s", logPath, tail(logPath))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *child) label() string { return fmt.Sprintf("switchyard (pid %d)", c.cmd.Process.Pid) }

func (c *child) cpu() time.Duration {
	fields := c.stat()
	// After "pid (comm)": state is field 3, utime 14, stime 15.
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// minorFaults is the child's minor page faults so far (field 10 of
// /proc/<pid>/stat): each is a first touch of a page, most of them pages
// its heap grew into, or took back after the runtime returned them.
func (c *child) minorFaults() int64 {
	fields := c.stat()
	if len(fields) < 8 {
		return 0
	}
	n, _ := strconv.ParseInt(fields[7], 10, 64)
	return n
}

// stat is /proc/<pid>/stat's fields after "pid (comm)", from the state on.
func (c *child) stat() []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return nil
	}
	s := string(data)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

func (c *child) rss() (now, peak int64) { return procStatus(c.cmd.Process.Pid) }

// procStatus reads VmRSS and VmHWM (KiB) of a process.
func procStatus(pid int) (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			*dst, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm
}

func (c *child) metrics() (string, error) {
	resp, err := http.Get("http://" + c.admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// stop sends SIGTERM (graceful: in-flight sends finish) and returns the
// child's peak RSS, VmHWM read just before. (Not the rusage Maxrss: Linux
// starts a child's at its parent's RSS at fork, so a large bench process
// would inflate it.)
func (c *child) stop() int64 {
	_, hwm := c.rss()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(40 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	return hwm
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// inproc is router.New in the bench process (-inprocess): for CPU
// profiles. Its CPU and RSS figures are the whole bench process's.
type inproc struct {
	r *router.Router
}

func startInproc(ctx context.Context, cfgDir, dataDir string) (*inproc, error) {
	cfg, diags := config.Load(cfgDir, config.Options{})
	if diags.Err() != nil {
		return nil, diags.Err()
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		return nil, diags.Err()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := router.New(cfg, plans, router.Options{DataDir: dataDir, Logger: log, StopTimeout: 30 * time.Second})
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return &inproc{r: r}, nil
}

func (p *inproc) label() string { return "bench process (-inprocess: router + nats-server + sink)" }

func (p *inproc) cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (p *inproc) rss() (now, peak int64) { return procStatus(os.Getpid()) }

func (p *inproc) metrics() (string, error) {
	rec := &textRecorder{}
	p.r.AdminHandler("").ServeHTTP(rec, mustRequest("GET", "/metrics"))
	return rec.b.String(), nil
}

func (p *inproc) stop() int64 {
	p.r.Stop()
	_, hwm := p.rss()
	return hwm
}

type textRecorder struct {
	h http.Header
	b strings.Builder
}

func (t *textRecorder) Header() http.Header {
	if t.h == nil {
		t.h = http.Header{}
	}
	return t.h
}
func (t *textRecorder) Write(p []byte) (int, error) { return t.b.Write(p) }
func (t *textRecorder) WriteHeader(int)             {}

func mustRequest(method, path string) *http.Request {
	r, err := http.NewRequest(method, path, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// metricValue finds one sample in Prometheus text: name{labels} value,
// or name value when labels is "".
func metricValue(text, name, labels string) (float64, bool) {
	prefix := name + "{" + labels + "}"
	if labels == "" {
		prefix = name
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(prefix):]), 64)
			return v, err == nil
		}
	}
	return 0, false
}
