package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// Replays re-deliver to one destination outside its lane, through a
// dispatch.Replayer: past events from EVENTS (ReplayEvents) and dead
// letters (ReplayDeadLetters). The CLI and the console run them with the
// same code; their counts are the caller's own (a replay runs in the
// process that asked for it, not in the lane of a running router), and
// every event replayed ends in exactly one outcome of the report.

// ReplayReport is what a replay did: events by outcome and the reasons of
// those not delivered (redacted), and for a DLQ replay what became of the
// entries.
type ReplayReport struct {
	Outcomes map[Outcome]int
	Reasons  map[string]int
	// Entries counts DLQ entries by what became of them: removed (the event
	// was delivered, filtered or unmatched), replaced (it failed again and
	// is kept with the new reason), kept (still invalid, or the new entry
	// could not be written), suppressed (kept, not sent: a regulation
	// suppresses its user), and stuck (delivered or replaced, but the old
	// entry could not be removed: it will replay again).
	Entries map[string]int
	// Problems are the errors met along the way, each once.
	Problems []string
}

func newReport() *ReplayReport {
	return &ReplayReport{Outcomes: map[Outcome]int{}, Reasons: map[string]int{}, Entries: map[string]int{}}
}

// Total is the number of events replayed.
func (r *ReplayReport) Total() int {
	n := 0
	for _, c := range r.Outcomes {
		n += c
	}
	return n
}

// Failed reports whether anything was not delivered for good or could not
// be settled in the DLQ.
func (r *ReplayReport) Failed() bool {
	return r.Outcomes[DeadLettered] > 0 || r.Entries["stuck"] > 0 || r.Entries["kept"] > 0 || len(r.Problems) > 0
}

// replayWindow bounds the events a replay holds at once.
const replayWindow = 256

// EventsFrom selects what ReplayEvents reads: one of Since, FromTime or
// FromSeq, and optionally Until.
type EventsFrom struct {
	Since    time.Duration
	FromTime time.Time
	FromSeq  uint64
	Until    time.Time
}

// ReplayEvents re-delivers past events from EVENTS to one destination,
// with its filter, integrations and triggers, through a separate ordered
// consumer: the destination's own consumer and every other destination are
// untouched. An event that fails is dead-lettered like the lane's.
// progress, when set, is called once per event settled.
//
// regs are the regulations in force (the CLI reads them with
// regulations.Load): an event of a user suppressed at the destination is
// filtered, reason suppressed, never delivered.
func ReplayEvents(ctx context.Context, js jetstream.JetStream, p *plan.Plan, from EventsFrom, regs plan.Regulations, obs destinations.Observer, progress func()) (*ReplayReport, error) {
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: FilterSubjects(p.Sources)}
	switch {
	case from.Since > 0:
		t := time.Now().Add(-from.Since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case !from.FromTime.IsZero():
		t := from.FromTime
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, max(from.FromSeq, 1)
	}
	rp, err := dispatch.NewReplayer(p, obs, regs)
	if err != nil {
		return nil, err
	}
	rep := newReport()
	var mu sync.Mutex
	w := newWindow(replayWindow)
	err = readStream(ctx, js, EventsStream, occ, 0, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if !from.Until.IsZero() && meta.Timestamp.After(from.Until) {
			return false
		}
		if !w.take(ctx) {
			return false
		}
		subject, data, at := m.Subject(), m.Data(), meta.Timestamp
		rp.Deliver(data, sourceOf(subject), at, nil, func(res dispatch.ReplayResult) {
			defer w.give(progress)
			problem := recordReplayTickets(js, p, res)
			if res.Outcome == DeadLettered || res.Outcome == Invalid {
				dl := &DeadLetter{Destination: p.Name, Subject: subject, Data: data, Reason: "replay: " + res.Reason,
					Status: res.Status, Response: res.Response, Attempts: res.Attempts, Actions: res.Actions, FirstAttempt: at, FailedAt: time.Now()}
				if err := PublishDeadLetter(context.Background(), js, dl, p.Redactor, p.DLQHeaderBytes()); err != nil {
					problem = "writing a dead letter failed: " + err.Error()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Outcomes[res.Outcome]++
			if res.Reason != "" && res.Outcome != Delivered {
				rep.Reasons[p.Redactor.String(res.Reason)]++
			}
			rep.problem(problem)
		})
		return true
	})
	rp.Flush()
	w.wait()
	_ = rp.Close(context.Background())
	return rep, err
}

// DLQSelect selects dead letters: at most Limit (0: all), those failed
// within Since (0: any), or exactly the entries of Seqs.
type DLQSelect struct {
	Limit int
	Since time.Duration
	Seqs  []uint64
}

// ListDeadLetters calls fn with each selected entry of a destination
// present when it starts, oldest first, with its DLQ stream sequence; fn
// returns false to stop. It streams: nothing is held but the entry at hand.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, dest string, sel DLQSelect, fn func(seq uint64, dl *DeadLetter) bool) error {
	if len(sel.Seqs) > 0 {
		return eachDeadLetterBySeq(ctx, js, dest, sel.Seqs, fn)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{DLQSubject(dest), InvalidSubject}}
	if sel.Since > 0 {
		t := time.Now().Add(-sel.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	n := 0
	return readStream(ctx, js, DLQStream, cfg, 0, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		dl, err := ParseDeadLetter(m)
		if err != nil || !dl.For(dest) {
			return true // another destination's shared entry
		}
		n++
		return fn(meta.Sequence.Stream, dl) && (sel.Limit == 0 || n < sel.Limit)
	})
}

// eachDeadLetterBySeq reads named entries, refusing one of another
// destination.
func eachDeadLetterBySeq(ctx context.Context, js jetstream.JetStream, dest string, seqs []uint64, fn func(uint64, *DeadLetter) bool) error {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return fmt.Errorf("reading the DLQ: %w", err)
	}
	for _, seq := range seqs {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil {
			return fmt.Errorf("DLQ entry %d: %w", seq, err)
		}
		dl := parseRawDeadLetter(raw)
		if !dl.For(dest) {
			return fmt.Errorf("DLQ entry %d does not belong to %s (%s)", seq, dest, strings.TrimPrefix(raw.Subject, "dlq."))
		}
		if !fn(seq, dl) {
			return nil
		}
	}
	return nil
}

// readStream reads what a stream holds for cfg when it starts, through an
// ordered consumer, up to limit messages (0: all).
func readStream(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, limit int, fn func(jetstream.Msg, *jetstream.MsgMetadata) bool) error {
	c, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("reading %s: %w", stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", stream, err)
	}
	remaining := int(info.NumPending)
	if limit > 0 && limit < remaining {
		remaining = limit
	}
	for remaining > 0 && ctx.Err() == nil {
		batch, err := c.Fetch(min(remaining, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("reading %s: %w", stream, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			remaining--
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			if !fn(m, meta) {
				return nil
			}
			if remaining == 0 {
				break
			}
		}
		if got == 0 {
			return nil // removed meanwhile
		}
	}
	return ctx.Err()
}

// ReplayDeadLetters re-delivers a destination's dead letters to it alone.
// An entry is removed once its event was delivered (or is now filtered or
// unmatched); one that fails again is replaced by an entry with the new
// reason, written before the old one is removed. Interrupting it loses
// nothing: at worst an event is sent twice, or an entry replays again. An
// entry that cannot be removed is counted stuck and reported: the report
// never says removed for an entry still in the DLQ. An entry whose user is
// suppressed at the destination (regs) is not delivered and is kept
// (counted suppressed): an unsuppress may want it back, and a purge
// removes it.
func ReplayDeadLetters(ctx context.Context, js jetstream.JetStream, p *plan.Plan, sel DLQSelect, regs plan.Regulations, obs destinations.Observer, progress func()) (*ReplayReport, error) {
	stream, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, fmt.Errorf("reading the DLQ: %w", err)
	}
	rp, err := dispatch.NewReplayer(p, obs, regs)
	if err != nil {
		return nil, err
	}
	rep := newReport()
	var mu sync.Mutex
	w := newWindow(128)
	err = ListDeadLetters(ctx, js, p.Name, sel, func(seq uint64, dl *DeadLetter) bool {
		if !w.take(ctx) {
			return false
		}
		var only map[string]bool
		if len(dl.Actions) > 0 {
			only = map[string]bool{}
			for _, a := range dl.Actions {
				only[a] = true
			}
		}
		rp.Deliver(dl.Data, sourceOf(dl.Subject), dl.FirstAttempt, only, func(res dispatch.ReplayResult) {
			defer w.give(progress)
			entry, problem := settleEntry(stream, js, p, seq, dl, res)
			lost := recordReplayTickets(js, p, res)
			mu.Lock()
			defer mu.Unlock()
			rep.Outcomes[res.Outcome]++
			if res.Reason != "" && res.Outcome != Delivered {
				rep.Reasons[p.Redactor.String(res.Reason)]++
			}
			rep.Entries[entry]++
			rep.problem(problem)
			rep.problem(lost)
		})
		return true
	})
	rp.Flush()
	w.wait()
	_ = rp.Close(context.Background())
	return rep, err
}

// settleEntry decides what becomes of a replayed entry.
func settleEntry(stream jetstream.Stream, js jetstream.JetStream, p *plan.Plan, seq uint64, dl *DeadLetter, res dispatch.ReplayResult) (entry, problem string) {
	switch {
	case res.Outcome == Invalid:
		return "kept", ""
	case res.Code == plan.ReasonSuppressed:
		return "suppressed", ""
	}
	switch res.Outcome {
	case DeadLettered:
		again := DeadLetterAgain(dl, res.Reason, res.Status, res.Response, res.Attempts, res.Actions)
		if err := PublishDeadLetter(context.Background(), js, again, p.Redactor, p.DLQHeaderBytes()); err != nil {
			return "kept", "writing the new dead letter failed (the old one is kept): " + err.Error()
		}
		if err := removeFor(stream, js, p, seq, dl); err != nil {
			return "stuck", fmt.Sprintf("entry %d failed again and was re-written, but the old entry could not be removed (remove it with dlq purge --seq %d): %v", seq, seq, err)
		}
		return "replaced", ""
	}
	if err := removeFor(stream, js, p, seq, dl); err != nil {
		return "stuck", fmt.Sprintf("entry %d was %s, but could not be removed (remove it with dlq purge --seq %d): %v", seq, res.Outcome, seq, err)
	}
	return "removed", ""
}

// removeFor removes an entry for p's destination: the entry itself, or,
// for a shared one that other destinations still need, the destination
// from its list (the entry is written again without it, then the old one
// removed).
func removeFor(stream jetstream.Stream, js jetstream.JetStream, p *plan.Plan, seq uint64, dl *DeadLetter) error {
	if dl.Shared {
		var rest []string
		for _, d := range dl.Destinations {
			if d != p.Name {
				rest = append(rest, d)
			}
		}
		if len(rest) > 0 {
			again := *dl
			again.Destinations, again.rewritten = rest, true
			if err := PublishDeadLetter(context.Background(), js, &again, p.Redactor, p.DLQHeaderBytes()); err != nil {
				return fmt.Errorf("writing the shared entry for %s: %w", strings.Join(rest, ", "), err)
			}
		}
	}
	return deleteEntry(stream, seq)
}

// deleteEntry removes a DLQ entry, trying a few times: a clustered
// JetStream electing a leader refuses for a moment. An entry already gone
// counts as removed.
func deleteEntry(stream jetstream.Stream, seq uint64) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = stream.DeleteMsg(ctx, seq)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
	}
	return err
}

// PurgeDeadLetters deletes a destination's dead letters: the entries of
// seqs, or all of them. It returns how many went.
func PurgeDeadLetters(ctx context.Context, js jetstream.JetStream, dest string, seqs []uint64) (int, error) {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	if len(seqs) == 0 {
		n, err := CountDeadLetters(ctx, js, dest)
		if err != nil {
			return 0, err
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(DLQSubject(dest))); err != nil {
			return 0, err
		}
		return n, nil
	}
	n := 0
	var perr error
	err = eachDeadLetterBySeq(ctx, js, dest, seqs, func(seq uint64, dl *DeadLetter) bool {
		if dl.Shared {
			perr = fmt.Errorf("entry %d is an invalid event shared by %s: purge it with dlq purge --invalid --seq %d", seq, strings.Join(dl.Destinations, ", "), seq)
			return false
		}
		if e := deleteEntry(s, seq); e != nil {
			perr = e
			return false
		}
		n++
		return true
	})
	return n, errors.Join(err, perr)
}

// PurgeInvalid deletes shared entries of invalid events: those of seqs, or
// all of them. They are shared by every destination that read the event,
// so this purges them for all.
func PurgeInvalid(ctx context.Context, js jetstream.JetStream, seqs []uint64) (int, error) {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	if len(seqs) == 0 {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(InvalidSubject))
		if err != nil {
			return 0, err
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(InvalidSubject)); err != nil {
			return 0, err
		}
		return int(info.State.Subjects[InvalidSubject]), nil
	}
	n := 0
	for _, seq := range seqs {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil {
			return n, fmt.Errorf("DLQ entry %d: %w", seq, err)
		}
		if raw.Subject != InvalidSubject {
			return n, fmt.Errorf("DLQ entry %d is not a shared invalid event (%s)", seq, raw.Subject)
		}
		if err := deleteEntry(s, seq); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CountDeadLetters is how many dead letters a destination has of its
// own; shared entries of invalid events are counted by CountInvalid.
func CountDeadLetters(ctx context.Context, js jetstream.JetStream, dest string) (int, error) {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(DLQSubject(dest)))
	if err != nil {
		return 0, err
	}
	return int(info.State.Subjects[DLQSubject(dest)]), nil
}

// CountInvalid is how many shared entries of invalid events the DLQ holds.
func CountInvalid(ctx context.Context, js jetstream.JetStream) (int, error) {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(InvalidSubject))
	if err != nil {
		return 0, err
	}
	return int(info.State.Subjects[InvalidSubject]), nil
}

func (r *ReplayReport) problem(p string) {
	if p == "" {
		return
	}
	for _, q := range r.Problems {
		if q == p {
			return
		}
	}
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, p)
	}
}

// window bounds the events a replay has in flight, and waits for them.
type window struct {
	slots chan struct{}
	wg    sync.WaitGroup
}

func newWindow(n int) *window { return &window{slots: make(chan struct{}, n)} }

// take waits for room; false when ctx ended first. wg.Add comes before the
// event is handed on.
func (w *window) take(ctx context.Context) bool {
	select {
	case w.slots <- struct{}{}:
		w.wg.Add(1)
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *window) give(progress func()) {
	<-w.slots
	w.wg.Done()
	if progress != nil {
		progress()
	}
}

func (w *window) wait() { w.wg.Wait() }
