package regulations

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Index is a router's in-memory view of the suppressions in force, kept
// current by a watch of the bucket: a suppression recorded by any router,
// the CLI or the admin API reaches every router's index within the time
// JetStream takes to push a message (milliseconds on a healthy cluster).
// It implements plan.Regulations; lookups take a read lock only.
//
// Lock order: mu is a leaf.
type Index struct {
	mu    sync.RWMutex
	users map[string]*Suppression
	anons map[string]*Suppression

	w       jetstream.KeyWatcher
	ready   chan struct{}
	stopped chan struct{}
	updates atomic.Int64
}

// Watch starts an index over the bucket and returns once it holds every
// suppression the bucket holds: a router must not route before it knows
// them. ctx bounds that wait; the watch runs until Stop.
func Watch(ctx context.Context, kv jetstream.KeyValue) (*Index, error) {
	// The watch's own context outlives ctx: it ends with Stop.
	w, err := kv.WatchFiltered(context.Background(), []string{"u.*", "a.*"})
	if err != nil {
		return nil, fmt.Errorf("watching the suppressions: %w", err)
	}
	ix := &Index{users: map[string]*Suppression{}, anons: map[string]*Suppression{}, w: w,
		ready: make(chan struct{}), stopped: make(chan struct{})}
	go ix.run()
	select {
	case <-ix.ready:
		return ix, nil
	case <-ix.stopped:
		return nil, fmt.Errorf("watching the suppressions: the watch ended before it had read them")
	case <-ctx.Done():
		_ = w.Stop()
		return nil, fmt.Errorf("reading the suppressions: %w", ctx.Err())
	}
}

// Load reads the suppressions once, without watching: what a replay run
// from the CLI consults.
func Load(ctx context.Context, kv jetstream.KeyValue) (*Index, error) {
	ix, err := Watch(ctx, kv)
	if err != nil {
		return nil, err
	}
	ix.Stop()
	return ix, nil
}

func (ix *Index) run() {
	defer close(ix.stopped)
	initial := true
	for e := range ix.w.Updates() {
		if e == nil {
			if initial {
				initial = false
				close(ix.ready)
			}
			continue
		}
		ix.apply(e)
	}
}

func (ix *Index) apply(e jetstream.KeyValueEntry) {
	kind, enc, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return
	}
	id, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return
	}
	var s *Suppression
	if e.Operation() == jetstream.KeyValuePut {
		s = &Suppression{}
		if json.Unmarshal(e.Value(), s) != nil {
			// Unreadable: suppress everywhere rather than deliver what a
			// person may have asked to stop (fail closed).
			s = &Suppression{All: true, Regulation: "unreadable"}
		}
	}
	ix.mu.Lock()
	m := ix.users
	if kind == "a" {
		m = ix.anons
	}
	if s == nil || s.empty() {
		delete(m, string(id))
	} else {
		m[string(id)] = s
	}
	ix.mu.Unlock()
	ix.updates.Add(1)
}

// Stop ends the watch; the index keeps what it holds.
func (ix *Index) Stop() {
	_ = ix.w.Stop()
	// The watch's channel closes once its subscription is gone; on a
	// connection already closed it may have closed before.
	select {
	case <-ix.stopped:
	case <-time.After(5 * time.Second):
	}
}

// Suppressed reports whether a user's events are suppressed at a
// destination, by userId or by anonymousId, and by which regulation.
func (ix *Index) Suppressed(dest, userID, anonymousID string) (string, bool) {
	if ix == nil {
		return "", false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if s := ix.users[userID]; userID != "" && s != nil && s.At(dest) {
		return s.Regulation, true
	}
	if s := ix.anons[anonymousID]; anonymousID != "" && s != nil && s.At(dest) {
		return s.Regulation, true
	}
	return "", false
}

// SuppressedEverywhere reports whether a user is suppressed at every
// destination: the HTTP intake does not even store their events.
func (ix *Index) SuppressedEverywhere(userID, anonymousID string) bool {
	if ix == nil {
		return false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if s := ix.users[userID]; userID != "" && s != nil && s.Everywhere() {
		return true
	}
	s := ix.anons[anonymousID]
	return anonymousID != "" && s != nil && s.Everywhere()
}

// Len is how many userIds and anonymousIds are suppressed somewhere.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.users) + len(ix.anons)
}

// Updates counts the changes the watch applied since the index started.
func (ix *Index) Updates() int64 { return ix.updates.Load() }
