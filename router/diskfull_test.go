package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// smallDisk mounts a tmpfs of size bytes for the test: a real file system
// that fills up. It needs root (CI runs as root); without it the test
// fails under CI=true and skips elsewhere.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	must(t, os.MkdirAll(dir, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("mounting a %s tmpfs (root needed): %v: %s", size, err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// The embedded server's disk fills up: JetStream refuses writes, /readyz
// says so with the reason, the metric too, and the embedded server's own
// errors are in the router's log. Once space is back, writes resume by
// themselves, without a restart of the router, and every event published
// while full (retried by the collector) and after is delivered.
func TestFullDiskIsLoudAndRecovers(t *testing.T) {
	disk := smallDisk(t, "24m")
	tl := newTool(t, nil)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("nats:\n  connect_wait: 0s\n  embedded:\n    listen: 127.0.0.1:-1\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "destinations", "hook.yaml"), fmt.Appendf(nil, "type: webhook\nsettings:\n  url: %s\n", tl.URL), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, diags := plan.BuildToServe(cfg)
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	logs := &lockedBuffer{}
	r := router.New(cfg, plans, router.Options{DataDir: disk, Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil)), StopTimeout: 5 * time.Second})
	must(t, r.Start(context.Background()))
	t.Cleanup(r.Stop)
	defer func() {
		if t.Failed() {
			t.Logf("router log:\n%s", logs.String())
		}
	}()
	admin := httptest.NewServer(r.AdminHandler(""))
	defer admin.Close()
	ready := func() (int, string) {
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	nc, err := nats.Connect(r.Embedded().ClientURL())
	must(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	must(t, err)
	published := map[string]bool{}
	publish := func(id string) error {
		m := nats.NewMsg("events.web.track")
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Data = fmt.Appendf(nil, `{"type":"track","messageId":%q,"userId":"u","event":"E","properties":{"pad":%q}}`, id, strings.Repeat("x", 2000))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.PublishMsg(ctx, m)
		if err == nil {
			published[id] = true
		}
		return err
	}
	for i := range 20 {
		must(t, publish(fmt.Sprintf("before-%02d", i)))
	}
	waitFor(t, 20*time.Second, func() bool { return len(uniq(tl.delivered())) == 20 }, func() string { return "the first events were not delivered" })
	if code, body := ready(); code != 200 {
		t.Fatalf("not ready before the disk filled: %d %s", code, body)
	}

	// Another process fills the disk.
	filler := filepath.Join(disk, "filler")
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run() // until the disk is full
	refused := 0
	for i := range 2000 {
		if publish(fmt.Sprintf("full-%04d", i)) != nil {
			if refused++; refused >= 3 {
				break
			}
		}
	}
	if refused == 0 {
		t.Fatal("JetStream took every write on a full disk: the precondition of the test")
	}
	waitFor(t, 30*time.Second, func() bool { code, _ := ready(); return code == 503 }, func() string {
		code, body := ready()
		return fmt.Sprintf("/readyz %d %q with the disk full", code, body)
	})
	if _, body := ready(); !strings.Contains(body, "JetStream refuses writes") {
		t.Errorf("/readyz says %q, want the reason", body)
	}
	if w := testutil.ToFloat64(r.Metrics().JetStreamWritable.WithLabelValues("")); w != 0 {
		t.Errorf("switchyard_jetstream_writable = %v with the disk full", w)
	}
	if !strings.Contains(logs.String(), "component=nats-server") || !strings.Contains(logs.String(), "no space left on device") {
		t.Errorf("the embedded server's errors are not in the router's log:\n%s", logs.String())
	}

	// Space comes back: no router restart.
	must(t, os.Remove(filler))
	waitFor(t, 60*time.Second, func() bool { code, _ := ready(); return code == 200 }, func() string {
		code, body := ready()
		return fmt.Sprintf("/readyz %d %q after space came back", code, body)
	})
	// The collector retries what was refused, and publishes more.
	for i := range 2000 {
		id := fmt.Sprintf("full-%04d", i)
		if !published[id] {
			waitFor(t, 20*time.Second, func() bool { return publish(id) == nil }, func() string { return "publishes still fail after space came back" })
		}
	}
	for i := range 20 {
		must(t, publish(fmt.Sprintf("after-%02d", i)))
	}
	waitFor(t, 60*time.Second, func() bool { return len(uniq(tl.delivered())) == len(published) }, func() string {
		return fmt.Sprintf("delivered %d of %d published", len(uniq(tl.delivered())), len(published))
	})
	e := &env{t: t, r: r, js: js}
	e.ledger("hook", len(published))
	t.Logf("%d events, %d refused while full; JetStream restarts: %v", len(published), refused, testutil.ToFloat64(r.Metrics().JetStreamRestarts))
}
