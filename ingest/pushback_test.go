package ingest_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/internal/natstest"
)

const twoEvents = `{"batch":[
	{"type":"track","messageId":"p1","userId":"u1","event":"E"},
	{"type":"track","messageId":"p2","userId":"u1","event":"E"}]}`

// wantRetryable asserts a pushback: the status, a Retry-After, and never a 200.
func wantRetryable(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d %s, want %d", r.status, r.raw, status)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
	}
	if r.body["success"] != false || !strings.Contains(r.raw, "JetStream did not acknowledge") {
		t.Errorf("body %s", r.raw)
	}
}

func TestNoStreamAnswers503(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	wantRetryable(t, h.post("/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":"u1","event":"E"}`)), http.StatusServiceUnavailable)
	wantRetryable(t, h.post("/v1/batch", keyWeb, []byte(twoEvents)), http.StatusServiceUnavailable)
	if n := h.counter("switchyard_ingest_requests_total", map[string]string{"code": "503"}); n != 2 {
		t.Errorf("503 requests %v, want 2", n)
	}
}

func TestNATSServerDownAnswers503(t *testing.T) {
	h := start(t, withPublishTimeout(500*time.Millisecond))
	h.ns.Shutdown()
	wantRetryable(t, h.post("/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":"u1","event":"E"}`)), http.StatusServiceUnavailable)
	wantRetryable(t, h.post("/v1/batch", keyWeb, []byte(twoEvents)), http.StatusServiceUnavailable)
}

func TestFullStreamAnswers503AndKeepsWhatWasAcked(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	h.createStream(jetstream.StreamConfig{MaxMsgs: 1, Discard: jetstream.DiscardNew})
	wantRetryable(t, h.post("/v1/batch", keyWeb, []byte(twoEvents)), http.StatusServiceUnavailable)
	got := h.stored()
	if len(got) != 1 {
		t.Fatalf("stored %d events, want the one the stream had room for", len(got))
	}
	// Room again: the client's retry of the same batch stores the rest,
	// and the event already stored is recognised by its messageId.
	if err := h.js.DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	h.createStream(jetstream.StreamConfig{})
	h.mustPost("/v1/batch", keyWeb, []byte(twoEvents))
	h.mustPost("/v1/batch", keyWeb, []byte(twoEvents))
	if got := h.stored(); len(got) != 2 {
		t.Fatalf("after retries stored %d events, want 2", len(got))
	}
}

func TestTooManyPendingPublishesAnswers429(t *testing.T) {
	base := start(t)
	nc, err := nats.Connect(base.ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, withJetStream(js), withPublishTimeout(500*time.Millisecond))
	// With the server gone the first publish waits in the reconnect buffer,
	// holding the only pending slot; the second finds none free.
	base.ns.Shutdown()
	wantRetryable(t, h.post("/v1/batch", keyWeb, []byte(twoEvents)), http.StatusTooManyRequests)
}

func TestAcknowledgedEventsSurviveANATSRestart(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/batch", keyWeb, []byte(twoEvents))
	h.mustPost("/v1/identify", keyWeb, []byte(`{"messageId":"p3","userId":"u1","traits":{"plan":"pro"}}`))
	// The 200 came after the acks: stop everything at once and the events
	// are in the store, not in this process.
	dir := h.ns.Dir
	h.ns.Shutdown()
	ns2, err := natstest.StartAt(dir, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Shutdown)
	_, js2 := ns2.Connect(t)
	got := storedIn(t, js2)
	if len(got) != 3 {
		t.Fatalf("after restart %d events, want 3", len(got))
	}
	for i, id := range []string{"p1", "p2", "p3"} {
		if got[i].msgID != id {
			t.Errorf("event %d: id %s, want %s", i, got[i].msgID, id)
		}
	}
}
