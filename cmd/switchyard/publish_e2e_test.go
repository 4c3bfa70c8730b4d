package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/internal/natstest"
)

// publish must never hang (issue 13): it used to wait for every ack with
// no async-publish timeout, check its 30 s guard only after that wait, and
// die on Ctrl-C without a word.

// joinConfig is a config directory whose NATS is url.
func joinConfig(t *testing.T, url string) string {
	return writeConfig(t, fmt.Sprintf("nats:\n  url: %s\nsources:\n  - name: web\n", url), nil)
}

// publishWithin runs publish, killing it (and failing) if it is still
// running after limit.
func publishWithin(t *testing.T, limit time.Duration, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"publish"}, args...)...)
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("publish still running after %s (killed): it hangs\nstdout: %s\nstderr: %s", limit, o.String(), e.String())
	}
	t.Logf("publish took %s", time.Since(start).Round(time.Millisecond))
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// A subject something answers but JetStream never acks: no stream takes
// events.>, and a plain subscriber swallows every publish (as a server that
// stopped answering would). Every publish resolves by --ack-timeout and is reported.
func TestPublishGivesUpWhenJetStreamNeverAcks(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var swallowed atomic.Int64
	if _, err := nc.Subscribe("events.>", func(*nats.Msg) { swallowed.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := joinConfig(t, s.ClientURL())
	out, errOut, code := publishWithin(t, 30*time.Second, strings.NewReader(strings.Join(trackEvents("h", 3), "\n")),
		"--config", dir, "--source", "web", "--ack-timeout", "1s")
	if swallowed.Load() != 3 {
		t.Fatalf("precondition: the subscriber got %d of the 3 publishes", swallowed.Load())
	}
	if code != 1 || !strings.Contains(out, "published 0, duplicates 0, rejected 0, not acknowledged 3") ||
		!strings.Contains(out, "may or may not be stored") || !strings.Contains(errOut, "JetStream did not acknowledge event #1 within 1s") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// The stream does not exist (serve never ran on this NATS): publish says
// so and stops, instead of refusing each event in turn.
func TestPublishWithoutAStreamSaysSoAndStops(t *testing.T) {
	s := natstest.Start(t)
	dir := joinConfig(t, s.ClientURL())
	out, errOut, code := publishWithin(t, 30*time.Second, strings.NewReader(strings.Join(trackEvents("n", 500), "\n")),
		"--config", dir, "--source", "web", "--window", "4")
	if code != 1 || !strings.Contains(errOut, "no JetStream stream takes events.web.track") || !strings.Contains(errOut, "stopped before the end of stdin") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "published 0, duplicates 0, rejected 0, not stored") || !strings.Contains(out, "not stored: no JetStream stream takes their subject") {
		t.Errorf("stdout: %s", out)
	}
}

// Ctrl-C while publish waits on its input (a pipe that stays open): it
// stops, reports what it published, and exits 130.
func TestPublishInterruptedReportsWhatItPublished(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := joinConfig(t, s.ClientURL())
	cmd := exec.Command(binPath, "publish", "--config", dir, "--source", "web")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var o, e safeBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	if _, err := io.WriteString(stdin, strings.Join(trackEvents("i", 3), "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		info, err := stream.Info(context.Background())
		return err == nil && info.State.Msgs == 3
	}, func() string { return "the 3 events never reached the stream:\n" + e.String() })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("publish did not stop 20 s after SIGINT:\n%s", e.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(o.String(), "published 3, duplicates 0, rejected 0") || !strings.Contains(e.String(), "interrupted") {
		t.Errorf("exit %d (%v)\nstdout: %s\nstderr: %s", code, cmd.ProcessState, o.String(), e.String())
	}
}

// Ctrl-C while publish waits for acks that do not come: it says what it
// waits for, and a second Ctrl-C ends it at once.
func TestPublishSecondInterruptQuitsWhileWaitingForAcks(t *testing.T) {
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var swallowed atomic.Int64
	if _, err := nc.Subscribe("events.>", func(*nats.Msg) { swallowed.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := joinConfig(t, s.ClientURL())
	cmd := exec.Command(binPath, "publish", "--config", dir, "--source", "web", "--ack-timeout", "10m")
	cmd.Stdin = strings.NewReader(strings.Join(trackEvents("q", 3), "\n"))
	var o, e safeBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	waitUntil(t, 20*time.Second, func() bool { return swallowed.Load() == 3 }, func() string { return "the publishes never reached NATS:\n" + e.String() })
	_ = cmd.Process.Signal(syscall.SIGINT)
	waitUntil(t, 20*time.Second, func() bool { return strings.Contains(e.String(), "interrupted: waiting up to 10m0s") },
		func() string { return "no word after the first SIGINT:\n" + e.String() })
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("a second SIGINT did not end publish:\n%s", e.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("want death by the second SIGINT, got %v", cmd.ProcessState)
	}
}
