package router

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/plan"
)

// Results of switchyard_receipts_total besides the tool's error codes.
const (
	ReceiptOK          = "ok"
	ReceiptExpired     = "expired"
	ReceiptCheckFailed = "check_failed"
	ReceiptUnrecorded  = "unrecorded"
	ReceiptOtherError  = "other_error"
)

// ReceiptTiming overrides a definition's receipts delays (tests; zero
// fields keep the definition's). Backoff is the first wait after a failed
// check (default 30 s), doubled per failure up to the recheck delay.
type ReceiptTiming struct {
	Delay, Recheck, Expiry, Backoff time.Duration
}

// receiptFetch is the most entries one pull brings: one check's worth
// (Expo answers at most 1,000 ids per getReceipts request).
const receiptFetch = 1000

// receiptIdleMax bounds how long the checker waits for entries not yet
// due: re-checks that fall due meanwhile wait at most this long.
const receiptIdleMax = 30 * time.Second

// receiptChecker checks the receipts of one destination: it pulls its
// entries from RECEIPTS, puts back (NakWithDelay) those not yet due, asks
// the tool about the due ones in one call, and settles each: acked with
// its result counted, or put back to be asked again (pending, or the check
// failed) until the expiry.
//
// Lock order: it holds no lock; its one goroutine owns its state, and it
// shares only the metrics, the log and the lane's samples (whose lock is
// a leaf).
type receiptChecker struct {
	r       *Router
	dest    string
	rc      *plan.Receipts
	target  destinations.ReceiptTarget
	codes   map[string]string // tool code -> result label
	samples *samples
	redact  *plan.Redactor
	log     *slog.Logger
	logs    logSampler

	delay, recheck, expiry, backoff time.Duration

	cons   jetstream.Consumer
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup // the run goroutine; Add before go
}

// startReceiptChecker ensures the destination's receipts consumer and
// starts checking. The lane stops it.
func (r *Router) startReceiptChecker(ctx context.Context, p *plan.Plan, s *samples, log *slog.Logger) (*receiptChecker, error) {
	cons, err := r.ensureReceiptsConsumer(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	rc := p.Receipts
	c := &receiptChecker{
		r: r, dest: p.Name, rc: rc, samples: s, redact: p.Redactor, log: log.With("component", "receipts"), cons: cons,
		target: destinations.ReceiptTarget{URL: rc.URL, Header: rc.Header, Client: receiptClient(p)},
		codes:  map[string]string{},
		delay:  rc.Delay, recheck: rc.Recheck, expiry: rc.Expiry, backoff: 30 * time.Second,
	}
	for _, code := range rc.Handler.Codes() {
		c.codes[code] = snakeCase(code)
	}
	t := r.opts.Receipts
	for _, o := range []struct{ to, from *time.Duration }{{&c.delay, &t.Delay}, {&c.recheck, &t.Recheck}, {&c.expiry, &t.Expiry}, {&c.backoff, &t.Backoff}} {
		if *o.from > 0 {
			*o.to = *o.from
		}
	}
	for _, res := range append([]string{ReceiptOK, ReceiptExpired, ReceiptCheckFailed, ReceiptUnrecorded, ReceiptOtherError}, mapValues(c.codes)...) {
		r.metrics.Receipts.WithLabelValues(p.Name, res) // visible at 0, for rates and alerts
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.done.Add(1)
	go c.run()
	return c, nil
}

// stop ends checking: a check in flight is cancelled, and its entries go
// back to RECEIPTS for the next checker (this router's after a restart,
// or another's).
func (c *receiptChecker) stop() {
	c.cancel()
	c.done.Wait()
	c.target.Client.CloseIdleConnections()
}

// receiptGaugeEvery is how often switchyard_receipts_pending is read (or
// every recheck, when that is shorter).
const receiptGaugeEvery = 15 * time.Second

// publishPending sets switchyard_receipts_pending from the consumer: what
// it has not delivered yet plus what it waits on (being checked, or put
// back with a delay). The stream is a work queue, so this is every ticket
// of the destination not settled yet.
func (c *receiptChecker) publishPending() {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	info, err := c.cons.Info(ctx)
	if err != nil {
		return // the next round tries again; the pull logs what is wrong
	}
	c.r.metrics.ReceiptsPending.WithLabelValues(c.dest).Set(float64(info.NumPending + uint64(info.NumAckPending)))
}

// recreateIfGone creates the receipts consumer again when someone deleted
// it: RECEIPTS is a work queue, so the new consumer finds every ticket
// still to check.
func (c *receiptChecker) recreateIfGone() {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	_, err := c.r.js.Consumer(ctx, ReceiptsStream, ReceiptsConsumerName(c.dest))
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return
	}
	cons, err := c.r.ensureReceiptsConsumer(ctx, c.dest)
	if err != nil {
		c.log.Error("receipts: the consumer was deleted; creating it again failed (retried at the next pull)", "err", err)
		return
	}
	c.cons = cons
	c.log.Warn("receipts: the consumer was deleted by someone else; created it again (no ticket is lost: RECEIPTS keeps them)", "consumer", ReceiptsConsumerName(c.dest))
}

// due is one entry fetched and due for its check.
type dueEntry struct {
	msg jetstream.Msg
	e   ReceiptEntry
}

func (c *receiptChecker) run() {
	defer c.done.Done()
	lastErr, lastGauge := time.Time{}, time.Time{}
	for c.ctx.Err() == nil {
		if time.Since(lastGauge) >= min(receiptGaugeEvery, c.recheck) {
			c.publishPending()
			lastGauge = time.Now()
		}
		batch, err := c.cons.Fetch(receiptFetch, jetstream.FetchMaxWait(pullWait(time.Now())))
		if err != nil {
			if time.Since(lastErr) > 10*time.Second {
				c.log.Warn("receipts: pull failed; retrying", "err", err)
				lastErr = time.Now()
			}
			c.recreateIfGone()
			c.sleep(time.Second)
			continue
		}
		var due []dueEntry
		var nextDue time.Time
		now := time.Now()
		for msg := range batch.Messages() {
			if c.ctx.Err() != nil {
				_ = msg.NakWithDelay(fetchWait) // stopping: for the next checker
				continue
			}
			var e ReceiptEntry
			if err := json.Unmarshal(msg.Data(), &e); err != nil || e.Ticket == "" {
				// Not written by a router: nothing can check it.
				c.log.Error("receipts: an entry of RECEIPTS is not a ticket; dropped", "subject", msg.Subject(), "err", err)
				_ = msg.Term()
				continue
			}
			if at := e.SentAt.Add(c.delay); now.Before(at) {
				c.nak(msg, at.Sub(now))
				if nextDue.IsZero() || at.Before(nextDue) {
					nextDue = at
				}
				continue
			}
			due = append(due, dueEntry{msg: msg, e: e})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			// A deleted consumer ends a pull with 409 Consumer Deleted, or
			// with missed heartbeats.
			c.recreateIfGone()
		}
		if len(due) > 0 {
			c.check(due)
		}
		if !nextDue.IsZero() && len(due) == 0 {
			// Entries come in the order they were sent: what follows the
			// one not due is not due either. Pull again when it is (or
			// sooner, for re-checks falling due meanwhile).
			c.sleep(min(max(time.Until(nextDue), 10*time.Millisecond), receiptIdleMax))
		}
	}
}

// check asks the tool about the due entries in one call (the handler
// chunks it) and settles each entry.
func (c *receiptChecker) check(due []dueEntry) {
	ids := make([]string, len(due))
	for i, d := range due {
		ids[i] = d.e.Ticket
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	got, err := c.rc.Handler.Check(ctx, c.target, ids)
	cancel()
	if err != nil {
		c.log.Warn("receipts: a check failed; its tickets are checked again later", "tickets", len(due)-len(got), "err", c.redact.String(err.Error()))
	}
	now := time.Now()
	for _, d := range due {
		rec, ok := got[d.e.Ticket]
		expired := !now.Before(d.e.SentAt.Add(c.expiry))
		switch {
		case !ok && c.ctx.Err() != nil:
			// Stopping: not a failure of the tool's.
			c.nak(d.msg, fetchWait)
		case !ok:
			c.count(ReceiptCheckFailed)
			if expired {
				c.settle(d, ReceiptExpired, "its receipt could not be checked within the tool's retention")
				continue
			}
			c.nak(d.msg, c.failureDelay(d.msg, d.e, now))
		case rec.Pending:
			if expired {
				c.settle(d, ReceiptExpired, "no receipt within the tool's retention")
				continue
			}
			// The last check falls at the expiry, not past it.
			c.nak(d.msg, max(min(c.recheck, d.e.SentAt.Add(c.expiry).Sub(now)), 10*time.Millisecond))
		case rec.OK():
			c.settle(d, ReceiptOK, "")
		default:
			c.report(d, rec)
		}
	}
}

// failureDelay is the wait after a failed check: exponential from the
// backoff by the entry's failed checks (deliveries past its first),
// jittered, at most the recheck delay, and never past the expiry.
func (c *receiptChecker) failureDelay(msg jetstream.Msg, e ReceiptEntry, now time.Time) time.Duration {
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		n = md.NumDelivered
	}
	d := c.backoff
	for i := uint64(1); i < n && d < c.recheck; i++ {
		d *= 2
	}
	d = min(d, c.recheck)
	d = d/2 + rand.N(d/2+1)
	return max(min(d, e.SentAt.Add(c.expiry).Sub(now)), 10*time.Millisecond)
}

// report settles an entry whose receipt is an error, reporting it where
// an operator looks: a warning in the log, a sample in the console's
// destination view, and the counter. Every dead recipient is logged: each
// is a token someone must remove, and the log is the complete list (at
// most the tool's own rate, Expo's 600 a second). Other errors (bad
// credentials fail every message alike) are logged up to a burst a
// second, the next line saying how many were not.
func (c *receiptChecker) report(d dueEntry, rec destinations.Receipt) {
	result, ok := c.codes[rec.Code]
	if !ok {
		result = ReceiptOtherError
	}
	msg := c.redact.String(rec.Message)
	args := []any{"messageId", d.e.MessageID, "recipient", d.e.Recipient, "ticket", d.e.Ticket, "code", rec.Code, "result", result, "detail", msg}
	if rec.DeadRecipient {
		c.log.Warn("receipts: dead recipient (token no longer registered): remove it and stop sending to it", args...)
	} else if more, ok := c.logs.allow(time.Now()); ok {
		if more > 0 {
			args = append(args, "not_logged_since", more)
		}
		c.log.Warn("receipts: the tool did not deliver a message it had accepted", args...)
	}
	c.samples.recordReceipt(d.e, result, rec.Code+": "+msg)
	c.settle(d, result, "")
}

// settle acks an entry and counts its result; an expiry is logged.
func (c *receiptChecker) settle(d dueEntry, result, why string) {
	if result == ReceiptExpired {
		c.log.Info("receipts: ticket expired unchecked: "+why, "messageId", d.e.MessageID, "ticket", d.e.Ticket, "sentAt", d.e.SentAt)
	}
	if err := d.msg.Ack(); err != nil {
		// Redelivered after the ack wait and checked again: a receipt may
		// be counted twice, never lost.
		c.log.Warn("receipts: ack failed (the ticket may be checked again)", "ticket", d.e.Ticket, "err", err)
	}
	c.count(result)
}

func (c *receiptChecker) count(result string) {
	c.r.metrics.Receipts.WithLabelValues(c.dest, result).Inc()
}

func (c *receiptChecker) nak(msg jetstream.Msg, delay time.Duration) {
	if err := msg.NakWithDelay(delay); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		c.log.Warn("receipts: nak failed (the ticket comes back after the ack wait)", "err", err)
	}
}

func (c *receiptChecker) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}

// snakeCase turns a tool's code (DeviceNotRegistered) into a label
// (device_not_registered).
func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
