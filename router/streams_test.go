package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/router"
)

// TestEnsureStreamsUpdatesOnlyWhatChanged: ensuring streams that are
// already as configured sends no stream update (every reload ensures them,
// and an update races consumers being created), while a changed setting is
// applied.
func TestEnsureStreamsUpdatesOnlyWhatChanged(t *testing.T) {
	s := natstest.Start(t)
	nc, js := s.Connect(t)
	ctx := context.Background()
	// Synchronous subscriptions: once a Flush returns, every request this
	// connection made is already queued on them (no callback to wait for).
	updates := countRequests(t, nc, "$JS.API.STREAM.UPDATE.*")
	creates := countRequests(t, nc, "$JS.API.STREAM.CREATE.*")

	must(t, router.EnsureStreams(ctx, js, config.Streams{}))
	if c := creates(); c != 3 {
		t.Fatalf("precondition: the first EnsureStreams sent %d stream creates, want 3: EVENTS, DLQ, RECEIPTS (are the API subjects observed?)", c)
	}
	// CreateOrUpdateStream tries an update first; only what follows counts.
	before := updates()
	must(t, router.EnsureStreams(ctx, js, config.Streams{}))
	if u := updates() - before; u != 0 {
		t.Fatalf("ensuring unchanged streams sent %d stream updates, want 0", u)
	}

	must(t, router.EnsureStreams(ctx, js, config.Streams{MaxAge: config.Duration(36 * time.Hour)}))
	if u := updates() - before; u != 1 {
		t.Fatalf("a changed max_age sent %d stream updates, want 1 (EVENTS only)", u)
	}
	st, err := js.Stream(ctx, router.EventsStream)
	must(t, err)
	if got := st.CachedInfo().Config.MaxAge; got != 36*time.Hour {
		t.Fatalf("EVENTS max_age = %s after the update, want 36h", got)
	}
}

// countRequests counts the messages published on subject from now on, as
// of the last Flush of nc.
func countRequests(t *testing.T, nc *nats.Conn, subject string) func() int {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	must(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	must(t, nc.Flush())
	return func() int {
		must(t, nc.Flush())
		n, _, err := sub.Pending()
		must(t, err)
		return n
	}
}
