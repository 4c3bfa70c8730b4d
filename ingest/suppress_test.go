package ingest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// The intake does not store the events of a user suppressed at every
// destination, and answers 200 as Segment does (an SDK would retry
// anything else); a user suppressed at some destinations only is stored,
// the router filters them there. Counted result suppressed.
func TestIntakeDropsUsersSuppressedEverywhere(t *testing.T) {
	var ix atomic.Pointer[regulations.Index]
	h := start(t, func(o *ingest.Options) {
		o.Suppressed = func(u, a string) bool { return ix.Load().SuppressedEverywhere(u, a) }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := regulations.Open(ctx, h.js, regulations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*regulations.Regulation{
		{Type: regulations.Suppress, Users: []plan.User{{UserID: "gone", AnonymousID: "gone-anon"}}, RequestedBy: "test"},
		{Type: regulations.Suppress, Users: []plan.User{{UserID: "partly"}}, Destinations: []string{"braze"}, RequestedBy: "test"},
	} {
		if err := store.Submit(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	index, err := regulations.Watch(ctx, store.KV())
	if err != nil {
		t.Fatal(err)
	}
	defer index.Stop()
	ix.Store(index)

	batch := map[string]any{"batch": []any{
		map[string]any{"type": "track", "event": "A", "userId": "gone", "messageId": "b-1"},
		map[string]any{"type": "page", "anonymousId": "gone-anon", "messageId": "b-2"},
		map[string]any{"type": "track", "event": "A", "userId": "partly", "messageId": "b-3"},
		map[string]any{"type": "track", "event": "A", "userId": "someone", "messageId": "b-4"},
	}}
	if r := h.post("/v1/batch", keyWeb, mustJSON(t, batch)); r.status != 200 || r.body["success"] != true {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	if r := h.post("/v1/track", keyWeb, mustJSON(t, map[string]any{"event": "A", "userId": "gone", "messageId": "s-1"})); r.status != 200 {
		t.Fatalf("single: %d %s", r.status, r.raw)
	}
	var ids []string
	for _, m := range h.stored() {
		ids = append(ids, m.msgID)
	}
	if fmt.Sprint(ids) != "[b-3 b-4]" {
		t.Errorf("stored %v, want [b-3 b-4]", ids)
	}
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "suppressed"}); n != 3 {
		t.Errorf("suppressed counted %v, want 3", n)
	}
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "published"}); n != 2 {
		t.Errorf("published counted %v, want 2", n)
	}
}
