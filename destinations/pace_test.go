package destinations

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestPacingNeverExceedsTheRate drives a limiter's token bucket and grid on
// a fake clock, as a lane's sends would (a backlog at the concurrency
// limit, idle gaps, bursts of arrivals, cancelled waits, and with adaptive
// limits 429s and recoveries), and checks every half-open window of the
// attempts' starts:
//   - 1 s: never more than the rate allows (RPS with the default burst of
//     1, RPS + burst - 1 with a larger one);
//   - 100 ms and 10 s (other multiples of the quantum): the same, without
//     adaptive limits (see below);
//   - any multiple of the quantum: never more starts than the bucket's own
//     grants in a window of that length: the grid adds nothing.
//
// The precondition that makes it a test: without cancellations or adaptive
// limits, the backlog's busiest second holds the rate (with burst 1, that
// is the bound).
//
// With adaptive limits, x/time/rate computes each turn at the rate in
// force when it is reserved, so turns reserved at a low rate can land among
// those reserved after a rise: the bucket's own grants then hold up to 11
// in 100 ms at a ceiling of 100/s (the same with and without the grid),
// never more than the ceiling in a second.
func TestPacingNeverExceedsTheRate(t *testing.T) {
	cases := []struct {
		cfg     RateConfig
		quantum time.Duration
		cancels bool
	}{
		{RateConfig{RPS: 100, Concurrency: 16}, 100 * time.Millisecond, false}, // Customer.io
		{RateConfig{RPS: 100, Concurrency: 16}, 100 * time.Millisecond, true},
		{RateConfig{RPS: 160, Concurrency: 64}, 100 * time.Millisecond, false}, // Intercom
		{RateConfig{RPS: 320, Concurrency: 64}, 50 * time.Millisecond, false},
		{RateConfig{RPS: 500, Concurrency: 128}, 25 * time.Millisecond, false},
		{RateConfig{RPS: 500, Concurrency: 128}, 25 * time.Millisecond, true},
		{RateConfig{RPS: 1000, Concurrency: 256}, 10 * time.Millisecond, false},
		{RateConfig{RPS: 10, Concurrency: 2}, 100 * time.Millisecond, true},
		{RateConfig{RPS: 7.5, Concurrency: 4}, 100 * time.Millisecond, false},
		{RateConfig{RPS: 1, Concurrency: 1}, 100 * time.Millisecond, false},
		{RateConfig{RPS: 100, Burst: 5, Concurrency: 16}, 100 * time.Millisecond, false},
		{RateConfig{RPS: 58, Burst: 3, Concurrency: 8}, 100 * time.Millisecond, true},
		{RateConfig{RPS: 100, Concurrency: 16, Adaptive: true}, 100 * time.Millisecond, true},
		{RateConfig{RPS: 500, Burst: 10, Concurrency: 64, Adaptive: true}, 25 * time.Millisecond, false},
	}
	for _, c := range cases {
		name := fmt.Sprintf("rps=%v,burst=%d,adaptive=%v,cancels=%v", c.cfg.RPS, c.cfg.Burst, c.cfg.Adaptive, c.cancels)
		t.Run(name, func(t *testing.T) {
			// At most this many in a half-open window of w.
			bound := func(w time.Duration) int {
				return int(math.Ceil(c.cfg.RPS*w.Seconds())) + max(1, c.cfg.Burst) - 1
			}
			for seed := range uint64(5) {
				sim := simulateLane(t, c.cfg, seed, c.cancels)
				if sim.l.quantum != c.quantum {
					t.Fatalf("quantum %s, want %s", sim.l.quantum, c.quantum)
				}
				peak, at := peakWindow(sim.starts, time.Second)
				if peak > bound(time.Second) {
					t.Fatalf("seed %d: %d attempts started in the second from %s: more than %d",
						seed, peak, at.Sub(simStart), bound(time.Second))
				}
				if sustained := int(c.cfg.RPS); !c.cancels && !c.cfg.Adaptive && peak < sustained {
					t.Fatalf("seed %d: the backlog's busiest second held %d attempts, under the rate (%d): the check proved nothing", seed, peak, sustained)
				}
				if !c.cfg.Adaptive {
					for _, w := range []time.Duration{100 * time.Millisecond, 10 * time.Second} {
						if p, at := peakWindow(sim.starts, w); p > bound(w) {
							t.Fatalf("seed %d: %d attempts in the %s from %s, more than %d", seed, p, w, at.Sub(simStart), bound(w))
						}
					}
				}
				for _, k := range []int{1, 2, 3, 7, 20, 200} {
					w := time.Duration(k) * sim.l.quantum
					s, _ := peakWindow(sim.starts, w)
					if g, _ := peakWindow(sim.grants, w); s > g {
						t.Fatalf("seed %d: %d attempts started in a window of %s, where the bucket granted at most %d", seed, s, w, g)
					}
				}
				for i, s := range sim.starts {
					if d := s.Sub(sim.l.epoch); d%sim.l.quantum != 0 {
						t.Fatalf("seed %d: an attempt started off the grid (%s after the epoch)", seed, d)
					}
					if g := sim.grants[i]; s.Before(g) || s.Sub(g) >= sim.l.quantum {
						t.Fatalf("seed %d: granted at %s, started at %s", seed, g.Sub(simStart), s.Sub(simStart))
					}
				}
			}
		})
	}
}

var simStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// simEvent is one step of a caller of the simulated lane: it arrives to
// reserve a turn (res 0), its reserved turn res comes, or (cancel) it gives
// turn res back.
type simEvent struct {
	at     time.Time
	slot   int
	res    int
	cancel bool
}

type simQueue []simEvent

func (q simQueue) Len() int           { return len(q) }
func (q simQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q simQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)        { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simResult is what a simulated lane did: each attempt's start, and the
// bucket's grant for it (in the order of the starts).
type simResult struct {
	starts, grants []time.Time
	l              *limiter
}

// simulateLane runs cfg.Concurrency callers for two simulated minutes and
// returns when each attempt started. A caller reserves, starts at its turn,
// takes 0-40 ms, and comes back at once (a backlog), after a pause, or
// after an idle gap of seconds; one reservation in 20 is cancelled before
// its turn (with cancels). With an adaptive limit, one answer in 50 is a
// 429.
func simulateLane(t *testing.T, cfg RateConfig, seed uint64, cancels bool) simResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 16))
	l := newLimiter(cfg, func(float64) {}, nil)
	// An epoch off the simulated clock's round numbers.
	l.epoch = simStart.Add(-time.Duration(rng.Int64N(int64(time.Hour))))
	now := simStart
	l.clock = func() time.Time { return now }
	end := simStart.Add(2 * time.Minute)

	q := &simQueue{}
	for i := range cfg.Concurrency {
		heap.Push(q, simEvent{at: simStart.Add(time.Duration(rng.Int64N(int64(5 * time.Millisecond)))), slot: i})
	}
	var sim simResult
	turns := map[int]turn{} // reserved, not yet come; by reservation
	nextRes := 1
	for q.Len() > 0 {
		e := heap.Pop(q).(simEvent)
		now = e.at
		switch {
		case e.res == 0: // an arrival
			tn := l.reserve(now)
			if tn.grant.Before(now) || tn.start.Before(tn.grant) {
				t.Fatalf("reserved at %s: granted at %s, starts at %s", now.Sub(simStart), tn.grant.Sub(simStart), tn.start.Sub(simStart))
			}
			res := nextRes
			nextRes++
			turns[res] = tn
			heap.Push(q, simEvent{at: tn.start, slot: e.slot, res: res})
			if cancels && tn.start.After(now) && rng.IntN(20) == 0 {
				heap.Push(q, simEvent{at: now.Add(time.Duration(rng.Int64N(int64(tn.start.Sub(now))))), slot: e.slot, res: res, cancel: true})
			}
		case e.cancel:
			tn, ok := turns[e.res]
			if !ok {
				continue
			}
			delete(turns, e.res)
			tn.cancel(now)
			heap.Push(q, simEvent{at: now.Add(time.Duration(rng.Int64N(int64(20 * time.Millisecond)))), slot: e.slot})
		default: // a turn came
			tn, ok := turns[e.res]
			if !ok {
				continue // given back
			}
			delete(turns, e.res)
			sim.starts = append(sim.starts, now)
			sim.grants = append(sim.grants, tn.grant)
			if cfg.Adaptive {
				if rng.IntN(50) == 0 {
					l.observe(429, time.Now())
				} else {
					l.observe(200, time.Now())
				}
			}
			next := now.Add(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
			switch r := rng.IntN(100); {
			case r < 3:
				next = next.Add(time.Duration(rng.Int64N(int64(3 * time.Second)))) // idle
			case r < 10:
				next = next.Add(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
			}
			if next.Before(end) {
				heap.Push(q, simEvent{at: next, slot: e.slot})
			}
		}
	}
	// Sorted by start, grants in step (rounding up is monotone: the
	// grants of equal starts may come in any order, and are sorted too).
	idx := make([]int, len(sim.starts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := sim.starts[a].Compare(sim.starts[b]); c != 0 {
			return c
		}
		return sim.grants[a].Compare(sim.grants[b])
	})
	out := simResult{l: l}
	for _, i := range idx {
		out.starts = append(out.starts, sim.starts[i])
		out.grants = append(out.grants, sim.grants[i])
	}
	return out
}

// peakWindow is the most starts in any half-open window [s, s+w), and
// where it begins (the busiest window begins at a start).
func peakWindow(starts []time.Time, w time.Duration) (int, time.Time) {
	peak, at, j := 0, time.Time{}, 0
	for i, s := range starts {
		for j < len(starts) && starts[j].Before(s.Add(w)) {
			j++
		}
		if j-i > peak {
			peak, at = j-i, s
		}
	}
	return peak, at
}

func TestOnGrid(t *testing.T) {
	epoch := simStart.Add(3 * time.Millisecond)
	q := 50 * time.Millisecond
	for _, c := range []struct{ in, want time.Duration }{
		{0, 0}, {1, q}, {q - 1, q}, {q, q}, {q + 1, 2 * q}, {-1, 0}, {-q + 1, 0}, {-q, -q}, {-q - 1, -q},
	} {
		if got := onGrid(epoch.Add(c.in), epoch, q).Sub(epoch); got != c.want {
			t.Errorf("onGrid(epoch%+d) = epoch%+d, want epoch%+d", c.in, got, c.want)
		}
	}
	if got := onGrid(epoch.Add(7), epoch, 0); !got.Equal(epoch.Add(7)) {
		t.Errorf("quantum 0 moved the time: %s", got.Sub(epoch))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		in := epoch.Add(time.Duration(rng.Int64N(int64(time.Hour))) - 30*time.Minute)
		got := onGrid(in, epoch, q)
		if got.Before(in) || got.Sub(in) >= q || got.Sub(epoch)%q != 0 {
			t.Fatalf("onGrid(%s) = %s", in.Sub(epoch), got.Sub(epoch))
		}
	}
}

func TestPaceQuantum(t *testing.T) {
	for _, c := range []struct {
		rps  float64
		want time.Duration
	}{
		{0, 100 * time.Millisecond}, // adaptive, unlimited until a 429: at most 100/s after
		{1, 100 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{160, 100 * time.Millisecond},
		{161, 50 * time.Millisecond},
		{320, 50 * time.Millisecond},
		{321, 25 * time.Millisecond},
		{500, 25 * time.Millisecond},
		{1000, 10 * time.Millisecond},
		{8000, 2 * time.Millisecond},
		{16000, time.Millisecond},
		{16001, 0},
	} {
		if got := paceQuantum(c.rps); got != c.want {
			t.Errorf("paceQuantum(%v) = %s, want %s", c.rps, got, c.want)
		}
	}
	// Every quantum divides 1 s, and its instants are the 50 ms grid's or
	// among them (a multiple of 50 ms) or include them (a divisor).
	for _, q := range paceQuanta {
		if time.Second%q != 0 || (q%(50*time.Millisecond) != 0 && (50*time.Millisecond)%q != 0) {
			t.Errorf("quantum %s: does not divide 1 s, or is neither a multiple nor a divisor of 50 ms", q)
		}
	}
}

// TestReserveCancelGivesTheTurnBack: a wait that gives up returns its
// token, so the next caller gets the turn it would have had.
func TestReserveCancelGivesTheTurnBack(t *testing.T) {
	l := newLimiter(RateConfig{RPS: 1, Concurrency: 1}, func(float64) {}, nil)
	now := simStart
	l.epoch = simStart
	l.rl.SetLimitAt(now, l.rl.Limit())
	first := l.reserve(now)
	second := l.reserve(now)
	if !first.start.Equal(now) || second.start.Sub(now) != time.Second {
		t.Fatalf("turns at +%s and +%s, want +0s and +1s", first.start.Sub(now), second.start.Sub(now))
	}
	second.cancel(now)
	if again := l.reserve(now); again.start.Sub(now) != time.Second {
		t.Fatalf("after a cancel the next turn is at +%s, want +1s", again.start.Sub(now))
	}
}

// TestWaitTokenDeadline: a turn that would come after the context's
// deadline is refused at once, its token given back.
func TestWaitTokenDeadline(t *testing.T) {
	l := newLimiter(RateConfig{RPS: 1.0 / 3600, Concurrency: 2}, func(float64) {}, nil)
	if err := l.waitToken(context.Background()); err != nil { // the bucket's one token, on the next grid instant
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := l.waitToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waitToken with the next turn in an hour and a minute's deadline: %v", err)
	}
	if r := l.rl.Reserve(); r.Delay() > time.Hour || r.Delay() < 59*time.Minute {
		t.Fatalf("the refused turn was kept: the next is in %s", r.Delay())
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if err := l.waitToken(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
