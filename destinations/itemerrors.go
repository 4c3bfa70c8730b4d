package destinations

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// ItemErrorParser reads a tool's per-item error report from a response to a
// request of items (a batch, or one item when items is 1): every 2xx, and
// every 4xx the status alone would make permanent. body is the response body
// as read, up to SenderConfig.MaxResponseBytes (not just the excerpt). It
// returns the failed items only; nil means every item was accepted (for a
// 4xx: the parser cannot say, and the status stands). Indexes outside
// [0, items) are ignored by the Batcher. On a single item's 4xx, the item's
// class and message become the request's (Sender.items4xx).
type ItemErrorParser func(status int, body []byte, items int) []ItemError

// ItemErrorMatcher is an ItemErrorParser for a tool whose report names the
// failed items by what they carry rather than by their position (Iterable's
// bulk endpoints list the emails and userIds they refused): request is the
// body as sent, in which it finds them. The rules of ItemErrorParser apply.
type ItemErrorMatcher func(status int, body, request []byte, items int) []ItemError

var (
	itemErrorParsers  = newRegistry[ItemErrorParser]("item error parser")
	itemErrorMatchers = newRegistry[ItemErrorMatcher]("item error parser")
	// itemErrorNames guards the one namespace of both registries; it is
	// taken before either registry's own lock, never while holding one.
	itemErrorNames sync.Mutex
)

// RegisterItemErrors makes a parser available by name, for the catalog's
// `item_errors:` setting. It is meant for init functions: it panics when the
// name is empty, the parser is nil, or the name is already taken.
func RegisterItemErrors(name string, p ItemErrorParser) {
	if p == nil {
		panic("destinations: RegisterItemErrors needs a parser")
	}
	itemErrorNames.Lock()
	defer itemErrorNames.Unlock()
	if _, taken := itemErrorMatchers.get(name); taken {
		panic("destinations: item error parser " + name + " registered twice")
	}
	itemErrorParsers.register(name, p)
}

// RegisterItemErrorMatcher makes a matcher available by name, for
// `item_errors:`, as RegisterItemErrors does a parser; the two share
// their names.
func RegisterItemErrorMatcher(name string, m ItemErrorMatcher) {
	if m == nil {
		panic("destinations: RegisterItemErrorMatcher needs a matcher")
	}
	itemErrorNames.Lock()
	defer itemErrorNames.Unlock()
	if _, taken := itemErrorParsers.get(name); taken {
		panic("destinations: item error parser " + name + " registered twice")
	}
	itemErrorMatchers.register(name, m)
}

// ItemErrorsParser returns the parser registered under name by
// RegisterItemErrors.
func ItemErrorsParser(name string) (ItemErrorParser, bool) { return itemErrorParsers.get(name) }

// ItemErrorsMatcher returns what reads the per-item errors registered
// under name, by either function: a parser is given everything but the
// request.
func ItemErrorsMatcher(name string) (ItemErrorMatcher, bool) {
	if m, ok := itemErrorMatchers.get(name); ok {
		return m, true
	}
	p, ok := itemErrorParsers.get(name)
	if !ok {
		return nil, false
	}
	return p.matcher(), true
}

// matcher is p as an ItemErrorMatcher; nil stays nil.
func (p ItemErrorParser) matcher() ItemErrorMatcher {
	if p == nil {
		return nil
	}
	return func(status int, body, _ []byte, items int) []ItemError { return p(status, body, items) }
}

// ItemErrorsParsers lists the registered parser and matcher names, sorted.
func ItemErrorsParsers() []string {
	names := append(itemErrorParsers.names(), itemErrorMatchers.names()...)
	slices.Sort(names)
	return names
}

func init() {
	RegisterItemErrors("standard", StandardItemErrors)
}

// AllItemsFail is the answer of a parser that cannot tell which items of
// a batch of n failed: every one fails alike, with class, status and msg,
// rather than be reported delivered.
func AllItemsFail(n int, class Class, status int, msg string) []ItemError {
	out := make([]ItemError, n)
	for i := range out {
		out[i] = ItemError{Index: i, Class: class, Status: status, Message: msg}
	}
	return out
}

// StandardItemErrors is the generic per-item error convention of the http
// and webhook destinations in batch mode, registered as "standard".
//
// Per-item errors (item_errors: standard)
//
// A receiver that accepts a batch but rejects some of its items answers
// 207 Multi-Status with a JSON body listing the rejected items by their
// zero-based position in the batch array:
//
//	HTTP/1.1 207 Multi-Status
//	Content-Type: application/json
//
//	{"errors": [
//	  {"index": 2, "status": 400, "message": "bad email"},
//	  {"index": 5, "status": 503, "message": "shard unavailable"}
//	]}
//
// Only the listed items fail; every other item of the batch is delivered.
// A listed item's outcome follows its own status exactly as a whole response
// would: 408, 423, 429 and 5xx except 501 are retried later, any other
// 4xx (and an entry without a status) is permanent and dead-lettered with
// the message. Entries with a 2xx status, an index outside the batch, or a
// repeated index are ignored.
//
// Any other 2xx status (200, 202, ...) means the whole batch was accepted,
// whatever the body says. A 207 whose body is not this JSON shape cannot say
// which items failed, so every item fails as permanent (dead-lettered with
// the reason, to be replayed once the receiver is fixed) rather than be
// reported as delivered. The body is read up to delivery's response limit
// (64 KiB by default).
func StandardItemErrors(status int, body []byte, items int) []ItemError {
	if status != http.StatusMultiStatus {
		return nil
	}
	var report struct {
		Errors []struct {
			Index   *int   `json:"index"`
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &report); err != nil || report.Errors == nil {
		msg := "207 response without a readable {\"errors\":[...]} list"
		if err != nil {
			msg = fmt.Sprintf("%s: %v", msg, err)
		}
		return AllItemsFail(items, Permanent, status, msg)
	}
	var out []ItemError
	seen := make(map[int]bool, len(report.Errors))
	for _, e := range report.Errors {
		if e.Index == nil || *e.Index < 0 || *e.Index >= items || seen[*e.Index] {
			continue
		}
		class := Permanent
		if e.Status != 0 {
			class = Classify(e.Status)
		}
		if class == OK {
			continue
		}
		seen[*e.Index] = true
		msg := e.Message
		if msg == "" {
			msg = "rejected by the receiver"
		}
		out = append(out, ItemError{Index: *e.Index, Class: class, Status: e.Status, Message: msg})
	}
	return out
}

// itemErrors applies the per-item error parser to a 2xx response. For a
// single-item request the item's failure becomes the request's: nothing
// downstream has to look at ItemErrors for an unbatched send.
func (s *Sender) itemErrors(res *Result, body, request []byte, items int) {
	items = max(items, 1)
	res.ItemErrors = s.items(res.Status, body, request, items)
	if items == 1 {
		for _, ie := range res.ItemErrors {
			if ie.Index == 0 && ie.Class != OK {
				res.Class = ie.Class
				res.Err = fmt.Errorf("item rejected (HTTP %d): %s", res.Status, ie.Message)
				break
			}
		}
	}
}

// tickets reads the tickets of a delivered request's items. A single
// item's is the request's own (Ticket); a batch's are split by the Batcher.
func (s *Sender) tickets(res *Result, body []byte, items int) {
	res.Tickets = s.cfg.Tickets(res.Status, body, max(items, 1))
	if items <= 1 && len(res.Tickets) > 0 {
		res.Ticket = res.Tickets[0]
	}
}

// items4xx applies the per-item parser to a 4xx answer. For a single
// item, the item's class and the tool's reason become the request's: the
// error reads "HTTP 410 Gone: Unregistered ...", and a reason the tool
// documents as passing (APNs' ExpiredProviderToken) makes it Retryable. It
// reports whether the parser named the item (or, for a batch, any item).
func (s *Sender) items4xx(res *Result, body, request []byte, items int) bool {
	if items > 1 {
		return s.batch4xx(res, body, request, items)
	}
	for _, ie := range s.items(res.Status, body, request, 1) {
		if ie.Index == 0 && ie.Class != OK {
			res.Class = ie.Class
			res.Err = fmt.Errorf("%w: %s", statusError(res.Status, res.RetryAfter), ie.Message)
			return true
		}
	}
	return false
}

// batch4xx applies the per-item parser to a 4xx answer to a batch. When
// the parser names items, the request counts as answered item by item: the
// named items fail with their own class, the others succeeded (a parser
// whose tool rejects the whole batch names every item, marking the innocent
// ones Retryable). It reports whether the parser named any item.
func (s *Sender) batch4xx(res *Result, body, request []byte, items int) bool {
	named := s.items(res.Status, body, request, items)
	if len(named) == 0 {
		return false
	}
	res.Class, res.ItemErrors = OK, named
	return true
}
