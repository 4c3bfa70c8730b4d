package router

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// Receipts (docs/delivery.md#receipts): a tool that confirms messages
// later (Expo's push receipts) answers a delivered message with a ticket.
// The lane writes each ticket to the RECEIPTS stream before it acks the
// event, and a receipt checker per destination (receiptcheck.go) asks for
// the receipts when they are due. The event's outcome stays delivered:
// receipts are counted apart, in switchyard_receipts_total.

// ReceiptsStream holds the tickets still to check, on
// receipts.<destination> (pinned). It is a work queue: an entry leaves it
// when its receipt is settled, so its size is what is still pending.
const ReceiptsStream = "RECEIPTS"

// ReceiptsSubject is where a destination's tickets go.
func ReceiptsSubject(dest string) string { return "receipts." + dest }

// ReceiptsConsumerName is a destination's durable receipts consumer
// (pinned).
func ReceiptsConsumerName(dest string) string { return "receipts_" + dest }

// receiptsMaxAge bounds an entry's life in RECEIPTS whatever happens to
// its destination (removed, never started again): tools keep receipts a
// day, so an entry two days old can only be reported expired.
const receiptsMaxAge = 48 * time.Hour

// receiptsStreamConfig is the RECEIPTS stream, created at start with
// EVENTS and DLQ.
func receiptsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        ReceiptsStream,
		Description: "Tickets of delivered messages whose receipts are still to check: receipts.<destination> (switchyard)",
		Subjects:    []string{"receipts.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		MaxAge:      receiptsMaxAge,
		// A lane that writes a ticket again after a lost reply (or two
		// routers settling the same redelivered event) stores it once.
		Duplicates: 10 * time.Minute,
		Replicas:   replicas,
	}
}

// ReceiptEntry is one ticket waiting for its receipt: the data of a
// RECEIPTS message, JSON.
type ReceiptEntry struct {
	Destination string `json:"destination"`
	Ticket      string `json:"ticket"`
	MessageID   string `json:"messageId"`
	Action      string `json:"action,omitempty"`
	// Recipient is whom the message addressed (a push token), truncated
	// (maskRecipient): enough to recognise it, not to send to it.
	Recipient string    `json:"recipient,omitempty"`
	SentAt    time.Time `json:"sentAt"`
}

// maxTicketBytes bounds a ticket id taken from a tool's answer.
const maxTicketBytes = 256

// maskRecipient truncates a recipient for storage, logs and the console:
// a push token is a credential to message a device. A bracketed token
// (ExponentPushToken[xxxx...]) keeps its kind and the first 4 and last 4
// characters of its id; anything else its first 4 and last 4 characters.
func maskRecipient(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "")
	prefix, id, suffix := "", s, ""
	if i := strings.IndexByte(s, '['); i >= 0 && i <= 32 && strings.HasSuffix(s, "]") {
		prefix, id, suffix = s[:i+1], s[i+1:len(s)-1], "]"
	}
	r := []rune(id)
	if len(r) <= 10 {
		return prefix + "…" + suffix
	}
	return prefix + string(r[:4]) + "…" + string(r[len(r)-4:]) + suffix
}

// recordReceipts writes the tickets of a delivery's delivered requests to
// RECEIPTS. It runs on the delivery's completion, before the event is
// settled: a ticket is stored before its event is acked. A ticket that
// cannot be stored (JetStream refuses writes for the whole bounded retry)
// is logged and counted unrecorded, and the event stays delivered: its
// message was sent, and sending it again to have a ticket to check would
// notify the person twice.
func (l *lane) recordReceipts(d *delivery, results []dispatch.Result) {
	if l.plan.Receipts == nil {
		return
	}
	id := d.msgID
	if d.eventID != "" {
		id = d.eventID
	}
	for i := range results {
		res := &results[i]
		if res.Class != destinations.OK || res.Ticket == "" {
			continue
		}
		var item []byte
		if res.Out.Req != nil {
			item = res.Out.Req.Body
		}
		e, err := newReceiptEntry(l.plan, id, dispatch.Ticket{ID: res.Ticket, Action: res.Out.Action, Item: item})
		if err == nil {
			err = l.r.publishReceipt(e)
		}
		if err != nil {
			l.r.metrics.Receipts.WithLabelValues(l.plan.Name, ReceiptUnrecorded).Inc()
			l.log.Error("receipts: a ticket was not stored; its receipt will not be checked (the event stays delivered)",
				"messageId", id, "err", err)
		}
	}
}

// newReceiptEntry is the entry of a delivered item's ticket, sent now.
func newReceiptEntry(p *plan.Plan, msgID string, t dispatch.Ticket) (ReceiptEntry, error) {
	if len(t.ID) > maxTicketBytes || !utf8.ValidString(t.ID) {
		return ReceiptEntry{}, fmt.Errorf("the tool's ticket id is not a UTF-8 string of at most %d bytes (%d bytes)", maxTicketBytes, len(t.ID))
	}
	e := ReceiptEntry{Destination: p.Name, Ticket: t.ID, MessageID: msgID, Action: t.Action, SentAt: time.Now().UTC()}
	if len(t.Item) > 0 {
		e.Recipient = maskRecipient(p.Receipts.Handler.Recipient(t.Item))
	}
	return e, nil
}

// recordReplayTickets stores the tickets of a replayed event's delivered
// requests (switchyard replay, dlq replay, the console's replays): the
// running routers check them like the lanes' own. It returns what went
// wrong, for the replay's report.
func recordReplayTickets(js jetstream.JetStream, p *plan.Plan, res dispatch.ReplayResult) string {
	if p.Receipts == nil || len(res.Tickets) == 0 {
		return ""
	}
	failed := 0
	var last error
	for _, t := range res.Tickets {
		e, err := newReceiptEntry(p, res.MessageID, t)
		if err == nil {
			err = publishReceipt(js, e)
		}
		if err != nil {
			failed++
			last = err
		}
	}
	if failed == 0 {
		return ""
	}
	return fmt.Sprintf("%d tickets were not stored in RECEIPTS, so their receipts will not be checked: %v", failed, last)
}

// publishReceipt stores one entry, retrying within a bounded time.
func (r *Router) publishReceipt(e ReceiptEntry) error {
	err := publishReceipt(r.js, e)
	r.noteWrite(err)
	return err
}

func publishReceipt(js jetstream.JetStream, e ReceiptEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m := nats.NewMsg(ReceiptsSubject(e.Destination))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.Destination+"/"+e.Ticket)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = retryJS(ctx, func(ctx context.Context) error {
		_, err := js.PublishMsg(ctx, m)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing ticket %s to %s: %w", e.Ticket, ReceiptsStream, err)
	}
	return nil
}

// ensureReceiptsConsumer creates (or updates) a destination's receipts
// consumer. It reads every entry of its subject: RECEIPTS is a work queue,
// so what is in it is exactly what is still to check, a restart's backlog
// included. An unused consumer goes after receiptsMaxAge, when nothing of
// its destination can be left to check.
func (r *Router) ensureReceiptsConsumer(ctx context.Context, dest string) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       ReceiptsConsumerName(dest),
		Description:   "switchyard receipts of destination " + dest,
		FilterSubject: ReceiptsSubject(dest),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A check of 1,000 tickets is a few requests: minutes are plenty,
		// and a router that dies mid check hands them on after this.
		AckWait:           2 * time.Minute,
		MaxDeliver:        -1,
		MaxAckPending:     receiptsMaxAckPending,
		MaxWaiting:        64,
		InactiveThreshold: receiptsMaxAge,
	}
	var c jetstream.Consumer
	err := retryJS(ctx, func(ctx context.Context) error {
		var err error
		c, err = r.js.CreateOrUpdateConsumer(ctx, ReceiptsStream, cc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ReceiptsConsumerName(dest), err)
	}
	return c, nil
}

// receiptsMaxAckPending bounds the entries a receipts consumer has out:
// those being checked and those waiting (nak'd with a delay) for their
// time. The checker fetches new entries no faster than they fall due
// (receiptcheck.go), so this is a safety bound, not a working limit.
const receiptsMaxAckPending = 50_000

// receiptClient is the HTTP client of a destination's checks: its
// timeout (at least 30 s: an answer holds up to 1,000 receipts), its TLS
// choice and the private-address guard when that is on. Redirects are not
// followed, as for deliveries.
func receiptClient(p *plan.Plan) *http.Client {
	cfg := p.Policy.Sender
	timeout := max(cfg.Timeout, 30*time.Second)
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if cfg.DenyPrivate {
		dialer.Control = destinations.DenyPrivateControl
		proxy = nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy, t.DialContext = proxy, dialer.DialContext
	t.TLSClientConfig = &tls.Config{
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice, logged at start
		MinVersion:         tls.VersionTLS12,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
