package destinations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults of BatchSpec.
const (
	DefaultBatchMaxItems = 100
	DefaultBatchMaxBytes = 512 << 10
	DefaultBatchLinger   = 200 * time.Millisecond
)

// BatchSpec bounds the batches of one destination.
type BatchSpec struct {
	MaxItems int           // default 100
	MaxBytes int           // default 512 KiB, counting the whole encoded body
	Linger   time.Duration // default 200ms: the oldest item waits at most this long
	// Key names the body field holding the items as a JSON array; "" means
	// the body IS the array.
	Key string
	// Envelope holds the other top-level fields of the body when Key is set.
	// It is encoded once, in NewBatcher.
	Envelope map[string]any
	// OnBatch, when set, is called with each batch's action and item count
	// just before it is sent. It must be cheap and must not block.
	OnBatch func(action string, n int)
}

// ErrBatcherClosed is the error of an item added after Close. The item is
// Retryable: it was not sent.
var ErrBatcherClosed = errors.New("batcher is closed")

// Batcher groups items into batch requests. Items are grouped by (Action,
// Method, URL, Header); each group is flushed when it reaches MaxItems or
// MaxBytes, or when its oldest item has waited Linger. Batches are sent
// concurrently, each on its own goroutine; the Sender's concurrency limit
// bounds the requests in flight, and the caller bounds the items held (the
// lane's unacknowledged messages).
type Batcher struct {
	spec   BatchSpec
	send   func(ctx context.Context, r *Request) Result
	prefix []byte // body bytes before the first item
	suffix []byte // body bytes after the last item
	encErr error  // the envelope could not be encoded

	ctx    context.Context // for sends; cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	groups map[string]*batchGroup
	closed bool
}

type batchItem struct {
	body []byte
	done func(Result)
}

// batchGroup is the open batch of one (Action, Method, URL, Header).
type batchGroup struct {
	key    string
	method string
	url    string
	header http.Header
	action string
	items  []batchItem
	size   int // encoded body size with the current items
	timer  *time.Timer
}

// NewBatcher returns a Batcher sending through send, normally Sender.Send.
func NewBatcher(spec BatchSpec, send func(ctx context.Context, r *Request) Result) *Batcher {
	if spec.MaxItems <= 0 {
		spec.MaxItems = DefaultBatchMaxItems
	}
	if spec.MaxBytes <= 0 {
		spec.MaxBytes = DefaultBatchMaxBytes
	}
	if spec.Linger <= 0 {
		spec.Linger = DefaultBatchLinger
	}
	b := &Batcher{spec: spec, send: send, groups: map[string]*batchGroup{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.prefix, b.suffix, b.encErr = batchFrame(spec.Key, spec.Envelope)
	return b
}

// batchFrame encodes what surrounds the items: "[" and "]", or the envelope
// object with Key's array last.
func batchFrame(key string, envelope map[string]any) (prefix, suffix []byte, err error) {
	if key == "" {
		return []byte("["), []byte("]"), nil
	}
	env := make(map[string]any, len(envelope))
	for k, v := range envelope {
		if k != key {
			env[k] = v
		}
	}
	head, err := json.Marshal(env) // sorted keys
	if err != nil {
		return nil, nil, fmt.Errorf("batch envelope cannot be encoded: %w", err)
	}
	k, _ := json.Marshal(key)
	prefix = append(prefix, head[:len(head)-1]...) // drop "}"
	if len(env) > 0 {
		prefix = append(prefix, ',')
	}
	prefix = append(prefix, k...)
	prefix = append(prefix, ":["...)
	return prefix, []byte("]}"), nil
}

// Add queues one item; req.Body is the item's JSON, added to the batch body
// as is. done is called exactly once with the item's own Result: the
// batch's, or the item's entry from Result.ItemErrors. done may run on any
// goroutine, including the caller's before Add returns (closed Batcher,
// invalid item), but never while the Batcher holds a lock. An item larger
// than MaxBytes on its own is sent alone.
func (b *Batcher) Add(req *Request, done func(Result)) {
	switch {
	case b.encErr != nil:
		done(Result{Class: Permanent, Err: b.encErr})
		return
	case req == nil:
		done(Result{Class: Permanent, Err: errors.New("batch item is nil; it was not sent")})
		return
	}
	if err := checkItem(req.Body, req.ValidJSON); err != nil {
		done(Result{Class: Permanent, Err: fmt.Errorf("%w; it was not sent", err)})
		return
	}
	key := groupKey(req)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		done(Result{Class: Retryable, Err: ErrBatcherClosed})
		return
	}
	g := b.groups[key]
	if g != nil && g.size+1+len(req.Body) > b.spec.MaxBytes {
		b.flushLocked(g) // the item would overflow the open batch
		g = nil
	}
	if g == nil {
		g = &batchGroup{
			key:    key,
			method: req.Method,
			url:    req.URL,
			header: req.Header,
			action: req.Action,
			size:   len(b.prefix) + len(b.suffix),
			items:  make([]batchItem, 0, min(b.spec.MaxItems, 16)),
		}
		b.groups[key] = g
		g.timer = time.AfterFunc(b.spec.Linger, func() { b.linger(g) })
	}
	if len(g.items) > 0 {
		g.size++ // comma
	}
	g.size += len(req.Body)
	g.items = append(g.items, batchItem{body: req.Body, done: done})
	if len(g.items) >= b.spec.MaxItems || g.size >= b.spec.MaxBytes {
		b.flushLocked(g)
	}
	b.mu.Unlock()
}

// checkItem says why an item cannot go into a batch body. The body is the
// items joined by commas, so one item that is not exactly one JSON value,
// or not UTF-8, makes the whole body invalid, and a strict tool refuses
// the batch, failing every item in it (issue 12: 781 of 1,000 valid events
// dead-lettered with 1% poisoned). Such an item fails alone instead.
//
// validJSON (Request.ValidJSON) skips the syntax check, the costly part,
// for bodies the router encoded or decoded as exactly one value itself.
// UTF-8 is checked always, cheaply: the decoders replace invalid bytes
// with U+FFFD but a forwarded event is its bytes as they came, and RFC 8259
// §8.1 requires JSON exchanged between systems to be UTF-8.
func checkItem(body []byte, validJSON bool) error {
	if len(body) == 0 {
		return errors.New("batch item is empty")
	}
	if !validJSON && !json.Valid(body) {
		var v json.RawMessage
		err := json.Unmarshal(body, &v) // only to say what is wrong
		return fmt.Errorf("batch item is not one valid JSON value: %v", err)
	}
	if !utf8.Valid(body) {
		at := 0
		for at < len(body) {
			r, n := utf8.DecodeRune(body[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return fmt.Errorf("batch item is not valid UTF-8 (byte %d), which JSON between systems must be (RFC 8259 section 8.1)", at)
	}
	return nil
}

// linger flushes g when its oldest item has waited Linger, unless it was
// flushed already.
func (b *Batcher) linger(g *batchGroup) {
	b.mu.Lock()
	if b.groups[g.key] == g {
		b.flushLocked(g)
	}
	b.mu.Unlock()
}

// flushLocked detaches g and sends it on a new goroutine.
func (b *Batcher) flushLocked(g *batchGroup) {
	delete(b.groups, g.key)
	g.timer.Stop()
	if len(g.items) == 0 {
		return
	}
	b.wg.Add(1)
	go b.sendBatch(g)
}

// Flush sends everything pending now.
func (b *Batcher) Flush() {
	b.mu.Lock()
	for _, g := range b.groups {
		b.flushLocked(g)
	}
	b.mu.Unlock()
}

// Close flushes, refuses new items, and waits for the batches in flight. If
// ctx ends first, the sends still running are cancelled (their items end
// Retryable, done is still called once for each), Close waits for them to
// return (a send honours its context, so this is prompt), and ctx's error
// is returned. When Close returns, every item's done has been called.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	for _, g := range b.groups {
		b.flushLocked(g)
	}
	b.mu.Unlock()
	waited := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-waited
		return ctx.Err()
	}
}

func (b *Batcher) sendBatch(g *batchGroup) {
	defer b.wg.Done()
	body := make([]byte, 0, g.size)
	body = append(body, b.prefix...)
	for i, it := range g.items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.body...)
	}
	body = append(body, b.suffix...)
	req := &Request{
		Method: g.method,
		URL:    g.url,
		// The batch's own: its first item's header may be shared with
		// other items (router/plan forwards share one), and signing the
		// batch adds to it.
		Header: g.header.Clone(),
		Body:   body,
		Items:  len(g.items),
		Action: g.action,
	}
	if b.spec.OnBatch != nil {
		b.spec.OnBatch(g.action, len(g.items))
	}
	res := b.send(b.ctx, req)
	splitResult(res, g.items)
}

// splitResult hands each item its own Result.
func splitResult(res Result, items []batchItem) {
	failed, tickets := res.ItemErrors, res.Tickets
	res.ItemErrors, res.Tickets = nil, nil
	ticket := func(i int) string {
		if i < len(tickets) {
			return tickets[i]
		}
		return ""
	}
	if res.Class != OK || len(failed) == 0 {
		for i, it := range items {
			r := res
			if r.Class == OK {
				r.Ticket = ticket(i)
			}
			it.done(r)
		}
		return
	}
	byIndex := make(map[int]ItemError, len(failed))
	for _, ie := range failed {
		if _, dup := byIndex[ie.Index]; !dup && ie.Index >= 0 && ie.Index < len(items) && ie.Class != OK {
			byIndex[ie.Index] = ie
		}
	}
	for i, it := range items {
		ie, bad := byIndex[i]
		if !bad {
			r := res
			r.Ticket = ticket(i)
			it.done(r)
			continue
		}
		r := res
		r.Class = ie.Class
		if ie.Status != 0 {
			r.Status = ie.Status
		}
		r.Err = fmt.Errorf("item %d of %d rejected (HTTP %d): %s", i, len(items), r.Status, ie.Message)
		it.done(r)
	}
}

// groupKey identifies the batch an item belongs to: same action, method,
// URL and headers (names canonicalised, in sorted order).
func groupKey(r *Request) string {
	var sb strings.Builder
	sb.Grow(len(r.Action) + len(r.Method) + len(r.URL) + 3 + 32*len(r.Header))
	sb.WriteString(r.Action)
	sb.WriteByte(0)
	sb.WriteString(r.Method)
	sb.WriteByte(0)
	sb.WriteString(r.URL)
	if len(r.Header) == 0 {
		return sb.String()
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		return strings.Compare(http.CanonicalHeaderKey(a), http.CanonicalHeaderKey(b))
	})
	for _, k := range names {
		sb.WriteByte(0)
		sb.WriteString(http.CanonicalHeaderKey(k))
		for _, v := range r.Header[k] {
			sb.WriteByte(1)
			sb.WriteString(v)
		}
	}
	return sb.String()
}
