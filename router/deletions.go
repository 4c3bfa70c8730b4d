package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// Deletions: a regulation that deletes users queues one task per
// destination in REGULATION_TASKS (regulations.Store.Submit). Every router
// pulls from the one durable consumer regulations_delete, so each task is
// run by one router at a time and, if that router dies, redelivered to
// another. A task runs through the destination's lane's dispatcher: the
// same sender, rate limit, breaker and in-process retries as its events.
// A retryable failure naks the task with the destination's backoff until
// its retry window (from the task's stream time) closes; a permanent one,
// or the window closing, records the deletion failed with the tool's
// answer, which is the deletion's dead letter (docs/privacy.md says why it
// is not in the DLQ stream: DLQ entries are events to replay).

// deleteWorkers bounds the deletion tasks a router runs at once.
const deleteWorkers = 4

// defaultRetryWindow is the window of a task whose destination no router
// runs (there is no plan to read it from).
const defaultRetryWindow = 4 * time.Hour

// deleter runs the deletion tasks this router takes.
//
// Lock order: it holds no lock; slots and wg are its only shared state.
type deleter struct {
	r      *Router
	store  *regulations.Store
	cons   jetstream.Consumer
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the pull goroutine and every task running
	slots  chan struct{}
}

func (r *Router) startDeleter(ctx context.Context) (*deleter, error) {
	var cons jetstream.Consumer
	err := retryJS(ctx, func(ctx context.Context) error {
		var err error
		cons, err = r.js.CreateOrUpdateConsumer(ctx, regulations.TasksStream, jetstream.ConsumerConfig{
			Durable:       regulations.TasksConsumer,
			Description:   "Deletion tasks, shared by every router (switchyard)",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    -1,
			MaxAckPending: 256,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", regulations.TasksConsumer, err)
	}
	d := &deleter{r: r, store: r.Regulations(), cons: cons, log: r.log.With("component", "deletions"), slots: make(chan struct{}, deleteWorkers)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1)
	go d.pull()
	return d, nil
}

// stop ends pulling; running tasks end at their next request (naked, to
// be run again) and are waited for by wait.
func (d *deleter) stop() { d.cancel() }

func (d *deleter) wait() { d.wg.Wait() }

func (d *deleter) pull() {
	defer d.wg.Done()
	for d.ctx.Err() == nil {
		// A slot first: a task is only taken when it can run now, and the
		// others wait in JetStream for this router or another.
		select {
		case d.slots <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		batch, err := d.cons.Fetch(1, jetstream.FetchMaxWait(pullWait(time.Now())))
		if err != nil {
			<-d.slots
			d.sleep(time.Second)
			continue
		}
		got := false
		for msg := range batch.Messages() {
			got = true
			if d.ctx.Err() != nil {
				_ = msg.NakWithDelay(fetchWait)
				<-d.slots
				continue
			}
			d.wg.Add(1)
			go func() {
				defer func() { <-d.slots; d.wg.Done() }()
				d.run(msg)
			}()
		}
		if !got {
			<-d.slots
		}
	}
}

func (d *deleter) sleep(t time.Duration) {
	tm := time.NewTimer(t)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-d.ctx.Done():
	}
}

// run runs one task, and settles its message.
func (d *deleter) run(msg jetstream.Msg) {
	dest := strings.TrimPrefix(msg.Subject(), "regulations.delete.")
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Nak()
		return
	}
	var task regulations.Task
	if err := json.Unmarshal(msg.Data(), &task); err != nil || task.Regulation == "" {
		d.log.Error("an unreadable deletion task; dropped", "destination", dest, "err", err)
		_ = msg.Term()
		return
	}
	log := d.log.With("regulation", task.Regulation, "destination", dest)
	stopKeep := keepAlive(msg)
	defer stopKeep()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	reg, err := d.store.Get(ctx, task.Regulation)
	var st *regulations.DestStatus
	if err == nil {
		st, err = d.store.Status(ctx, task.Regulation, dest)
	}
	cancel()
	switch {
	case errors.Is(err, regulations.ErrNotFound):
		log.Warn("deletion task of an unknown regulation; dropped")
		_ = msg.Ack()
		return
	case err != nil:
		log.Warn("reading the regulation failed; the task runs again", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	case st != nil && st.State.Done():
		_ = msg.Ack() // a redelivery of a task that ended
		return
	}
	status := regulations.DestStatus{Destination: dest, State: regulations.Pending}
	if st != nil {
		status = *st
	}
	l, ok := d.r.lane(dest)
	if !ok {
		// Another router of the cluster may run it.
		if time.Since(meta.Timestamp) > defaultRetryWindow {
			status.State, status.Detail = regulations.Failed, "no router of this cluster runs destination "+dest+" (its retry window closed)"
			d.record(task.Regulation, status, dest, "failed")
			_ = msg.Ack()
			return
		}
		_ = msg.NakWithDelay(30 * time.Second)
		return
	}
	t := &deletion{d: d, l: l, p: l.plan, msg: msg, meta: meta, status: status, log: log,
		del: plan.Deletion{Regulation: reg.ID, Type: string(reg.Type), Reason: reg.Reason, Users: reg.Users, At: reg.CreatedAt}}
	t.run()
}

// keepAlive tells JetStream a task is still being worked on, so that a
// long deletion (thousands of users, one request each) is not redelivered
// meanwhile. The returned function stops it.
func keepAlive(msg jetstream.Msg) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// record writes a status, and counts a final one.
func (d *deleter) record(id string, st regulations.DestStatus, dest, result string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.store.SetStatus(ctx, id, st); err != nil {
		d.log.Error("recording a deletion's status failed", "regulation", id, "destination", dest, "state", st.State, "err", err)
	}
	if result != "" {
		d.r.metrics.Deletions.WithLabelValues(dest, result).Inc()
	}
}

// deletion is one task being run.
type deletion struct {
	d      *deleter
	l      *lane
	p      *plan.Plan
	msg    jetstream.Msg
	meta   *jetstream.MsgMetadata
	del    plan.Deletion
	status regulations.DestStatus
	log    *slog.Logger
}

// chunk outcomes.
type chunkEnd int

const (
	chunkDone chunkEnd = iota
	chunkAbsent
	chunkPermanent
	chunkRetry
)

func (t *deletion) run() {
	t.status.State = regulations.Running
	t.status.Attempts = int(t.meta.NumDelivered)
	t.d.record(t.del.Regulation, t.status, t.p.Name, "")
	dp := t.p.PlanDeletion(t.del)
	if len(dp.Failures) > 0 {
		f := dp.Failures[0]
		t.fail(fmt.Sprintf("%s: %v", f.Key, f.Err), nil)
		return
	}
	if len(dp.Chunks) == 0 {
		t.finish("no delete action applies to this regulation: " + skipped(dp.Skipped))
		return
	}
	done := map[string]bool{}
	for _, k := range t.status.Done {
		done[k] = true
	}
	var absent []string
	for _, c := range dp.Chunks {
		if done[c.Key] {
			continue
		}
		if t.d.ctx.Err() != nil {
			// Stopping: another router (or this one, restarted) goes on.
			t.d.record(t.del.Regulation, t.status, t.p.Name, "")
			_ = t.msg.NakWithDelay(fetchWait)
			return
		}
		end, res, err := t.chunk(c)
		if res != nil {
			t.status.Status, t.status.Answer = res.Status, t.p.Redactor.Excerpt(string(res.Body))
		}
		switch end {
		case chunkDone, chunkAbsent:
			if end == chunkAbsent {
				absent = append(absent, c.Key)
			}
			t.status.Done = append(t.status.Done, c.Key)
			t.d.record(t.del.Regulation, t.status, t.p.Name, "")
		case chunkPermanent:
			t.fail(fmt.Sprintf("%s: %v", c.Key, err), res)
			return
		case chunkRetry:
			t.retry(c.Key, err, res)
			return
		}
	}
	detail := ""
	if len(absent) > 0 {
		detail = "the tool holds no such user for " + strings.Join(absent, ", ")
	}
	t.finish(detail)
}

func skipped(s []plan.Skip) string {
	parts := make([]string, 0, len(s))
	for _, x := range s {
		parts = append(parts, x.Action+": "+x.Reason)
	}
	return strings.Join(parts, "; ")
}

// chunk sends one request of the deletion (its lookup first, when it has
// one) and says how it ended.
func (t *deletion) chunk(c plan.DeleteChunk) (chunkEnd, *destinations.Result, error) {
	var lookup any
	if c.HasLookup() {
		out, err := t.p.RenderLookup(t.del, c)
		if err != nil {
			return chunkPermanent, nil, fmt.Errorf("lookup: %w", err)
		}
		if out != nil {
			res := t.send(*out)
			switch {
			case res.Class == destinations.OK:
			case res.Class == destinations.Permanent && c.AbsentStatus(res.Status, true):
				return chunkAbsent, &res, nil
			case res.Class == destinations.Permanent:
				return chunkPermanent, &res, fmt.Errorf("lookup: %w", dispatch.ResultErr(&res))
			default:
				return chunkRetry, &res, fmt.Errorf("lookup: %w", dispatch.ResultErr(&res))
			}
			v, found, err := t.p.LookupAnswer(t.del, c, res.Body)
			// The lookup's answer names the users (it may hold their
			// profile): it is never recorded.
			res.Body = nil
			if err != nil {
				return chunkPermanent, &res, fmt.Errorf("lookup: %w", err)
			}
			if !found {
				return chunkAbsent, &res, nil
			}
			lookup = v
		}
	}
	out, err := t.p.RenderDelete(t.del, c, lookup)
	if err != nil {
		return chunkPermanent, nil, err
	}
	res := t.send(*out)
	switch {
	case res.Class == destinations.OK:
		return chunkDone, &res, nil
	case res.Class == destinations.Permanent && c.AbsentStatus(res.Status, false):
		return chunkAbsent, &res, nil
	case res.Class == destinations.Permanent:
		return chunkPermanent, &res, dispatch.ResultErr(&res)
	}
	return chunkRetry, &res, dispatch.ResultErr(&res)
}

// send sends one request through the lane's dispatcher and waits for it.
func (t *deletion) send(o plan.Outbound) destinations.Result {
	ended := make(chan destinations.Result, 1)
	t.l.disp.Dispatch([]plan.Outbound{o}, func(rs []dispatch.Result) { ended <- rs[0].Result })
	return <-ended
}

func (t *deletion) finish(detail string) {
	t.status.State, t.status.Detail = regulations.Finished, detail
	t.d.record(t.del.Regulation, t.status, t.p.Name, "finished")
	t.log.Info("deletion finished", "detail", detail)
	_ = t.msg.Ack()
}

func (t *deletion) fail(reason string, res *destinations.Result) {
	t.status.State, t.status.Detail = regulations.Failed, t.p.Redactor.String(reason)
	if res != nil {
		t.status.Status, t.status.Answer = res.Status, t.p.Redactor.Excerpt(string(res.Body))
	}
	t.d.record(t.del.Regulation, t.status, t.p.Name, "failed")
	t.log.Warn("deletion failed", "reason", t.status.Detail, "status", t.status.Status)
	_ = t.msg.Ack()
}

// retry naks the task with the destination's backoff, or fails it when
// the next attempt would fall after its retry window.
func (t *deletion) retry(key string, err error, res *destinations.Result) {
	pol := t.p.Policy
	delay := backoffFor(pol.Backoff, pol.BackoffMax, int(t.meta.NumDelivered))
	if res != nil && res.RetryAfter > delay {
		delay = res.RetryAfter
	}
	if time.Since(t.meta.Timestamp)+delay > pol.RetryWindow {
		t.fail(fmt.Sprintf("%s: still failing when the retry window (%s) closed: %v", key, pol.RetryWindow, err), res)
		return
	}
	t.status.Detail = t.p.Redactor.String(fmt.Sprintf("%s: %v; trying again in %s", key, err, delay.Round(time.Second)))
	t.d.record(t.del.Regulation, t.status, t.p.Name, "retried")
	_ = t.msg.NakWithDelay(delay)
}

// backoffFor is exponential with equal jitter, from initial to most, as
// the lanes' redelivery backoff.
func backoffFor(initial, most time.Duration, delivered int) time.Duration {
	base := max(initial, time.Millisecond)
	for i := 1; i < delivered && base < most; i++ {
		base *= 2
	}
	base = min(base, max(most, initial))
	return base/2 + rand.N(base/2+1)
}
