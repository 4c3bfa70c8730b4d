package destinations

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/mappings"
)

// strictTool answers 400 to a body that is not valid JSON (RFC 8259: one
// value, UTF-8), as a strict tool does, else 200; it records the messageId
// of every item of the batches it accepts.
type strictTool struct {
	srv       *httptest.Server
	mu        sync.Mutex
	delivered map[string]int
	refused   int
}

func newStrictTool(t *testing.T) *strictTool {
	st := &strictTool{delivered: map[string]int{}}
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var items []struct {
			MessageID string `json:"messageId"`
		}
		if err != nil || !utf8.Valid(body) || !json.Valid(body) || json.Unmarshal(body, &items) != nil {
			st.mu.Lock()
			st.refused++
			st.mu.Unlock()
			http.Error(w, `{"error":"invalid JSON"}`, http.StatusBadRequest)
			return
		}
		st.mu.Lock()
		for _, it := range items {
			st.delivered[it.MessageID]++
		}
		st.mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(st.srv.Close)
	return st
}

// Issue 12's shape at unit level: 1,000 events forwarded by a batching
// webhook to a strict tool, 1% of them poisoned with trailing bytes after
// the object (and a 64-bit number, which took the exact-digits decode
// path that let them through), plus a few holding bytes that are not
// UTF-8. The lane decodes each event and forwards its bytes as they came,
// marked ValidJSON because they decoded. Before, each poisoned event
// failed the whole batch it landed in (781 of 1,000 valid events were
// dead-lettered); now it is refused alone and every valid event is
// delivered, exactly once.
func TestPoisonedEventsFailAloneNotTheirBatch(t *testing.T) {
	tool := newStrictTool(t)
	s := newSender(t, fastConfig("webhook"))
	b := NewBatcher(BatchSpec{MaxItems: 100, Linger: 20 * time.Millisecond}, s.Send)
	now := time.Now()

	type outcome struct {
		id  string
		res Result
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		invalid  = map[string]string{}
		valid    = map[string]bool{}
		poisoned = map[string]bool{}
	)
	for i := range 1000 {
		id := fmt.Sprintf("m-%04d", i)
		raw := fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u-%d","event":"Order Completed","properties":{"ts_ns":1767323045678000000,"n":%d}}`, id, i, i)
		switch {
		case i%100 == 37: // 1%: a second object glued on after a stray brace
			raw += `}{"x":1}`
			poisoned[id] = true
		case i%250 == 11: // bytes that are not UTF-8 inside a string
			raw = strings.Replace(raw, `"Order Completed"`, "\"Order \xff\xfe Completed\"", 1)
			poisoned[id] = true
		default:
			valid[id] = true
		}
		if _, err := mappings.Decode([]byte(raw), now, mappings.Limits{}); err != nil {
			invalid[id] = err.Error() // the lane's "invalid" outcome: alone, with its reason
			continue
		}
		wg.Add(1)
		b.Add(&Request{Method: http.MethodPost, URL: tool.srv.URL, Body: []byte(raw), Items: 1, Action: "forward", ValidJSON: true}, func(r Result) {
			mu.Lock()
			outcomes = append(outcomes, outcome{id, r})
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(poisoned) != 14 || len(valid) != 986 {
		t.Fatalf("precondition: %d poisoned, %d valid events", len(poisoned), len(valid))
	}

	lostValid := 0
	for _, o := range outcomes {
		switch {
		case valid[o.id] && o.res.Class != OK:
			lostValid++
			if lostValid <= 3 {
				t.Errorf("valid event %s failed: %v", o.id, o.res.Err)
			}
		case poisoned[o.id] && o.res.Class != Permanent:
			t.Errorf("poisoned event %s: class %v, want Permanent", o.id, o.res.Class)
		case poisoned[o.id] && (o.res.Attempts != 0 || !strings.Contains(o.res.Err.Error(), "it was not sent")):
			t.Errorf("poisoned event %s: attempts %d, reason %v", o.id, o.res.Attempts, o.res.Err)
		}
	}
	if lostValid > 0 {
		t.Errorf("%d of %d valid events failed with their batch", lostValid, len(valid))
	}
	for id, reason := range invalid {
		if !poisoned[id] {
			t.Errorf("valid event %s refused by Decode: %s", id, reason)
		} else if !strings.Contains(reason, "trailing data") {
			t.Errorf("poisoned event %s refused for %q, want trailing data", id, reason)
		}
	}
	if got := len(outcomes) + len(invalid); got != 1000 {
		t.Errorf("%d outcomes, want one per event (1000)", got)
	}
	tool.mu.Lock()
	defer tool.mu.Unlock()
	if tool.refused != 0 {
		t.Errorf("the tool refused %d batches as invalid JSON", tool.refused)
	}
	for id := range valid {
		if tool.delivered[id] != 1 {
			t.Errorf("valid event %s delivered %d times", id, tool.delivered[id])
		}
	}
}

// An item that cannot go into a batch body fails alone, with a reason and
// nothing sent, whatever its ValidJSON claim; the batch around it goes.
func TestBatcherFailsAnUnbatchableItemAlone(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{MaxItems: 4, Linger: time.Hour}, tool.send)
	rs := newResults()
	bad := map[int]struct {
		body  string
		valid bool
		want  string
	}{
		1: {`{"n":1}}{"x":1}`, false, "not one valid JSON value"},
		3: {"{\"n\":\"\xc3\"}", true, "not valid UTF-8 (byte 6)"},
		5: {"", true, "empty"},
	}
	for i := range 7 {
		req := item(i)
		if x, isBad := bad[i]; isBad {
			req.Body, req.ValidJSON = []byte(x.body), x.valid
		}
		b.Add(req, rs.done(i))
	}
	sent := tool.wait(t)
	if sent.Items != 4 || string(sent.Body) != `[{"n":0},{"n":2},{"n":4},{"n":6}]` {
		t.Fatalf("batch of %d: %s", sent.Items, sent.Body)
	}
	got := rs.check(t, 7)
	for i, r := range got {
		x, isBad := bad[i]
		switch {
		case !isBad && r.Class != OK:
			t.Errorf("item %d: %+v", i, r)
		case isBad && (r.Class != Permanent || r.Attempts != 0 || !strings.Contains(r.Err.Error(), x.want)):
			t.Errorf("item %d: %+v, want Permanent saying %q", i, r, x.want)
		}
	}
	if _, err := BatchBody(BatchSpec{}, []byte(`{"a":1}`), []byte(`{"a":1}]`)); err == nil || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("BatchBody with an invalid item: %v", err)
	}
	b.Close(context.Background())
}
