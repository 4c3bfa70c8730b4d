package destinations

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Receipts: some tools accept a message at once and say later whether it
// reached its recipient. Expo answers /push/send with a push ticket per
// message, and whether Apple or Google took the message is in the ticket's
// receipt, from /push/getReceipts minutes later
// (https://docs.expo.dev/push-notifications/sending-notifications/#push-receipts).
//
// A tool's Go quirk registers a ReceiptHandler by name; its definition's
// `receipts:` names it, with the endpoint and the delays. The Sender reads
// the ticket of each delivered item (Result.Ticket) with the handler; the
// router keeps the tickets durably and checks them when they are due
// (docs/delivery.md#receipts). A delivered event stays delivered: a
// receipt is counted and reported on its own, not as the event's outcome.

// ReceiptHandler is a tool's receipts quirk.
type ReceiptHandler interface {
	// Tickets reads a 2xx answer to a request of items (a batch, or one
	// item when items is 1) and returns each item's ticket by position:
	// "" for an item with none (it failed, or the tool gave no ticket).
	// The slice may be shorter than items.
	Tickets(status int, body []byte, items int) []string
	// Recipient names whom one item (its JSON body as sent) addresses,
	// such as a push token, for the report of a receipt. The router
	// truncates it before it stores or shows it.
	Recipient(item []byte) string
	// Check asks the tool for the receipts of ids, in chunks of the
	// tool's maximum, at t. It returns a receipt for every id it has an
	// answer about (Pending included); an id it could not ask about (a
	// chunk whose request failed) is left out, and the failure is in the
	// error. The router checks those again later.
	Check(ctx context.Context, t ReceiptTarget, ids []string) (map[string]Receipt, error)
	// Codes are the error codes the tool documents for receipts: each is
	// counted under its own name, any other code as other_error (metric
	// labels stay a bounded set).
	Codes() []string
}

// ReceiptTarget is where and how a destination's receipts are asked for:
// its definition's receipts URL and headers, rendered over its settings.
type ReceiptTarget struct {
	URL    string
	Header http.Header
	// Client is the destination's HTTP client for checks (its timeout,
	// and the private-address guard when that is on).
	Client *http.Client
}

// Receipt is what a tool says about one ticket.
type Receipt struct {
	// Pending: no receipt yet; ask again later.
	Pending bool
	// Code is the tool's error code, "" when the message was delivered.
	Code string
	// Message is the tool's message with what to do about it.
	Message string
	// DeadRecipient: the recipient no longer exists (Expo's
	// DeviceNotRegistered): stop sending to it.
	DeadRecipient bool
}

// OK reports whether the receipt says the message was delivered.
func (r Receipt) OK() bool { return !r.Pending && r.Code == "" }

var receiptHandlers = newRegistry[ReceiptHandler]("receipts handler")

// RegisterReceipts makes a receipts handler available by name, for the
// catalog's `receipts.handler`. It is meant for init functions: it panics
// when the name is empty, the handler nil, or the name already taken.
func RegisterReceipts(name string, h ReceiptHandler) {
	if h == nil {
		panic("destinations: RegisterReceipts needs a handler")
	}
	receiptHandlers.register(name, h)
}

// ReceiptsHandler returns the handler registered under name.
func ReceiptsHandler(name string) (ReceiptHandler, bool) { return receiptHandlers.get(name) }

// ReceiptsHandlers lists the registered handler names, sorted.
func ReceiptsHandlers() []string { return receiptHandlers.names() }

// Defaults of ReceiptsDef, from Expo's guidance: receipts are usually
// ready within 15 minutes and kept for 24 hours.
const (
	DefaultReceiptDelay   = 15 * time.Minute
	DefaultReceiptRecheck = 15 * time.Minute
	DefaultReceiptExpiry  = 24 * time.Hour
)

// ReceiptsDef is a definition's `receipts:`: how the tickets of delivered
// messages are checked.
type ReceiptsDef struct {
	// Handler names a registered ReceiptHandler.
	Handler string `yaml:"handler"`
	// URL and Headers are templates over settings, as the request's are.
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// Delay is how long after sending a ticket is first checked (default
	// 15m); Recheck how long a pending one waits for its next check
	// (default 15m); Expiry, counted from sending, when a ticket still
	// pending is given up and reported expired (default 24h: the tool
	// keeps receipts no longer).
	Delay   string `yaml:"delay"`
	Recheck string `yaml:"recheck"`
	Expiry  string `yaml:"expiry"`
}

// Timing parses the delays, with the defaults for those not set.
func (r *ReceiptsDef) Timing() (delay, recheck, expiry time.Duration, err error) {
	parse := func(name, s string, def time.Duration) time.Duration {
		if s == "" || err != nil {
			return def
		}
		d, e := time.ParseDuration(s)
		if e != nil || d <= 0 {
			err = fmt.Errorf("receipts.%s %q is not a positive duration (such as 15m)", name, s)
		}
		return d
	}
	delay = parse("delay", r.Delay, DefaultReceiptDelay)
	recheck = parse("recheck", r.Recheck, DefaultReceiptRecheck)
	expiry = parse("expiry", r.Expiry, DefaultReceiptExpiry)
	return delay, recheck, expiry, err
}

// defect is a definition's problem at a key.
type defect struct{ key, msg string }

// receiptsDefects lists what is wrong with a definition's receipts, each
// at its key under receipts.
func (d *Definition) receiptsDefects() []defect {
	r := d.Receipts
	if r == nil {
		return nil
	}
	var bad []defect
	if _, ok := ReceiptsHandler(r.Handler); !ok {
		bad = append(bad, defect{"handler", fmt.Sprintf("receipts.handler %q is not a registered receipts handler (registered: %s; is destinations/catalog/all imported?)",
			r.Handler, strings.Join(ReceiptsHandlers(), ", "))})
	}
	if r.URL == "" {
		bad = append(bad, defect{"url", "receipts.url is empty"})
	}
	for key, v := range map[string]string{"delay": r.Delay, "recheck": r.Recheck, "expiry": r.Expiry} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			bad = append(bad, defect{key, fmt.Sprintf("receipts.%s %q is not a positive duration (such as 15m)", key, v)})
		}
	}
	if delay, _, expiry, err := r.Timing(); err == nil && expiry <= delay {
		bad = append(bad, defect{"expiry", fmt.Sprintf("receipts.expiry %s is not after receipts.delay %s", expiry, delay)})
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].key < bad[j].key })
	return bad
}
