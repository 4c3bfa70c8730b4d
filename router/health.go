package router

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStream write health. A full disk (or JetStream's own storage limit)
// makes every write fail: new events, dead letters, acks of state. The
// router must then say so (/readyz not ready, a metric with the reason,
// the embedded server's errors in the log) and recover by itself once
// space is back. nats-server marks a stream whose file store met a write
// error (ENOSPC) and keeps failing its writes after space is freed; for the
// embedded server the router restarts JetStream in-process (its data stays
// on disk), which clears that state, then checks with a probe write.
//
// The probe writes to a stream of its own (HealthStream, one message kept)
// so that it tests the same disk without adding to EVENTS or the DLQ.

// HealthStream is the stream the write probe uses.
const HealthStream = "SWITCHYARD_HEALTH"

const (
	probeEvery       = 10 * time.Second // while writes succeed
	probeEveryFailed = 2 * time.Second  // while they fail
	probeTimeout     = 3 * time.Second
)

// writeHealth tracks whether JetStream takes writes. Its lock is a leaf.
type writeHealth struct {
	mu       sync.Mutex
	failing  bool
	reason   string
	since    time.Time
	restarts int
}

// storageError reports errors that mean JetStream cannot store: out of
// space, over its resource limits, or a file store write error.
func storageError(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10023: JSInsufficientResourcesErr in nats-server's error table.
		if apiErr.ErrorCode == 10023 {
			return "insufficient_resources", true
		}
		if apiErr.Code == 500 && strings.Contains(apiErr.Description, "no space left") {
			return "no_space", true
		}
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "no space left on device"):
		return "no_space", true
	case strings.Contains(s, "insufficient resources"):
		return "insufficient_resources", true
	}
	return "", false
}

// noteWrite records the result of a JetStream write made elsewhere (a
// dead letter, an intake publish, the embedded server's own error log): a
// storage error marks writes failing at once, without waiting for the
// probe. A success says nothing: the probe alone declares writes healthy
// again, after a restart of the embedded JetStream if one is needed.
func (r *Router) noteWrite(err error) {
	if reason, ok := storageError(err); ok {
		r.markFailing(reason, err)
	}
}

// NoteWrite lets another writer to JetStream (the HTTP intake) report a
// publish's result.
func (r *Router) NoteWrite(err error) { r.noteWrite(err) }

// writable reports whether JetStream takes writes.
func (r *Router) writable() (bool, string) {
	r.health.mu.Lock()
	defer r.health.mu.Unlock()
	return !r.health.failing, r.health.reason
}

// watchWrites probes JetStream's writes until ctx ends, and recovers the
// embedded server once the disk has room again.
func (r *Router) watchWrites(ctx context.Context) {
	if _, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: HealthStream, Description: "switchyard's write probe: one message, rewritten",
		Subjects: []string{"switchyard.health"}, Storage: jetstream.FileStorage, MaxMsgs: 1, Discard: jetstream.DiscardOld,
	}); err != nil {
		r.log.Warn("write probe: cannot create its stream; JetStream health is judged from the router's own writes", "err", err)
	}
	t := time.NewTimer(probeEvery)
	defer t.Stop()
	restarted := false // in this episode of failing writes
	timeouts := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, _ := r.writable()
		if !ok && !restarted && r.embedded != nil {
			// A stream that met a write error keeps failing after space is
			// freed: JetStream must start afresh, once there is room.
			restarted = r.restartEmbeddedJetStream()
		}
		err := r.probe(ctx)
		switch {
		case err == nil:
			timeouts = 0
			if !ok && (restarted || r.embedded == nil) {
				r.health.mu.Lock()
				since := r.health.since
				r.health.failing, r.health.reason = false, ""
				r.health.mu.Unlock()
				r.metrics.setWritable(true, "")
				r.log.Info("JetStream takes writes again", "after", time.Since(since).Round(time.Second))
				restarted = false
			}
		case errors.Is(err, context.DeadlineExceeded):
			// No ack at all: a stuck store, or a leader election. Two in a
			// row (6 s without an ack) count as refusing writes.
			if timeouts++; timeouts >= 2 {
				r.markFailing("no_ack", err)
			}
		default:
			r.noteWrite(err)
		}
		next := probeEvery
		if ok, _ := r.writable(); !ok {
			next = probeEveryFailed
		}
		t.Reset(next)
	}
}

// markFailing marks writes failing for reason.
func (r *Router) markFailing(reason string, err error) {
	r.health.mu.Lock()
	changed := !r.health.failing
	if changed {
		r.health.failing, r.health.reason, r.health.since = true, reason, time.Now()
	}
	r.health.mu.Unlock()
	if changed {
		r.metrics.setWritable(false, reason)
		r.log.Error("JetStream refuses writes: not ready until it takes them again", "reason", reason, "err", err)
	}
}

// probe writes the probe message and waits for its ack.
func (r *Router) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := r.js.Publish(ctx, "switchyard.health", []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	return err
}

// restartEmbeddedJetStream restarts the embedded server's JetStream when
// the disk has room again, and reports whether it did. Data on disk is
// kept; pulls and acks in flight fail once and the lanes retry them.
func (r *Router) restartEmbeddedJetStream() bool {
	s := r.embedded
	free, err := freeBytes(r.storeDir)
	if err != nil || free < minFreeToRestart {
		return false // still full: JetStream would fail again
	}
	cfg := s.JetStreamConfig()
	if cfg == nil {
		return false
	}
	c := *cfg
	// JetStreamConfig reports the store with the "jetstream" folder the
	// server adds; given back as is, it would be added twice (a new, empty
	// store).
	c.StoreDir = r.storeDir
	r.log.Warn("restarting the embedded JetStream now that the disk has room (data kept)", "free_bytes", free)
	if err := s.DisableJetStream(); err != nil {
		r.log.Error("restarting the embedded JetStream: disable failed", "err", err)
		return false
	}
	if err := s.EnableJetStream(&c); err != nil {
		r.log.Error("restarting the embedded JetStream: enable failed (tried again at the next probe)", "err", err)
		return false
	}
	r.health.mu.Lock()
	r.health.restarts++
	r.health.mu.Unlock()
	r.metrics.JetStreamRestarts.Inc()
	return true
}

// minFreeToRestart is the room JetStream needs on disk before a restart is
// worth trying: a few blocks and an index.
const minFreeToRestart = 8 << 20
