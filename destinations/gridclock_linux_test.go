//go:build linux

package destinations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/poll"
)

func testGridClock(t *testing.T) *gridClock {
	t.Helper()
	c, err := newGridClock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		poll.Until(t, 10*time.Second, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return !c.running
		}, func() string { return "the clock's goroutine did not end once no one waited" })
		c.file.Close()
	})
	return c
}

// The attempts waiting for one instant share its gate, and attempts that
// give up leave: the last to leave ends the clock's goroutine (the
// cleanup checks it), so that an idle process holds none.
func TestGridClockSharesAGatePerInstant(t *testing.T) {
	c := testGridClock(t)
	base := OnGrid(time.Now().Add(time.Hour), 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	const instants, each = 3, 10
	var wg sync.WaitGroup
	errs := make(chan error, instants*each)
	for i := range instants * each {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.wait(ctx, base.Add(time.Duration(i%instants)*50*time.Millisecond))
		}()
	}
	poll.Until(t, 10*time.Second, func() bool { w, _ := c.waiting(); return w == instants*each },
		func() string { w, g := c.waiting(); return fmt.Sprintf("%d waits on %d gates", w, g) })
	if _, g := c.waiting(); g != instants {
		t.Fatalf("%d waits for %d instants hold %d gates", instants*each, instants, g)
	}
	c.mu.Lock()
	order := slices.Clone(c.order)
	c.mu.Unlock()
	if len(order) != instants || !slices.IsSorted(order) {
		t.Fatalf("the gates' instants in order: %v", order)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a wait given up: %v", err)
		}
	}
	c.mu.Lock()
	left := len(c.order)
	c.mu.Unlock()
	if w, g := c.waiting(); w != 0 || g != 0 || left != 0 {
		t.Fatalf("after every wait gave up: %d waits on %d gates, %d instants in order", w, g, left)
	}
}

// No wait ends before its instant by Go's clock, whether the instant is
// long past, a few microseconds away or tens of milliseconds away, and
// whichever instant was armed first; every wait ends.
func TestGridClockNeverOpensBeforeItsInstant(t *testing.T) {
	c := testGridClock(t)
	now := time.Now()
	var ats []time.Time
	for i := range 60 {
		// From 5 ms in the past to 55 ms ahead, out of order.
		ats = append(ats, now.Add(time.Duration((i*37)%60-5)*time.Millisecond))
	}
	ats = append(ats, now.Add(10*time.Microsecond), now.Add(time.Millisecond+300*time.Microsecond))
	type ended struct {
		at, at2 time.Time
		err     error
	}
	out := make(chan ended, len(ats))
	for _, at := range ats {
		go func() {
			err := c.wait(context.Background(), at)
			out <- ended{at, time.Now(), err}
		}()
	}
	deadline := time.After(10 * time.Second)
	for range ats {
		select {
		case e := <-out:
			if e.err != nil {
				t.Fatalf("wait for +%s: %v", e.at.Sub(now), e.err)
			}
			if e.at2.Before(e.at) {
				t.Fatalf("the wait for +%s ended %s early", e.at.Sub(now), e.at.Sub(e.at2))
			}
		case <-deadline:
			w, g := c.waiting()
			t.Fatalf("waits not ended after 10s: %d on %d gates", w, g)
		}
	}
}

// A timerfd that fails gives the clock up: the waits it held end at their
// instants on timers of their own, and later waits use timers.
func TestGridClockFallsBackWhenItsTimerfdFails(t *testing.T) {
	c, err := newGridClock()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- c.wait(context.Background(), at) }()
	poll.Until(t, 10*time.Second, func() bool { w, _ := c.waiting(); return w == 1 }, func() string { return "the wait did not reach the clock" })
	c.file.Close() // the clock's goroutine's read fails
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Before(at) {
			t.Fatal("the wait held when the timerfd failed ended before its instant")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait held when the timerfd failed never ended")
	}
	c.mu.Lock()
	broken, running := c.broken, c.running
	c.mu.Unlock()
	if !broken || running {
		t.Fatalf("after the failure: broken %v, goroutine running %v", broken, running)
	}
	later := time.Now().Add(20 * time.Millisecond)
	if err := c.wait(context.Background(), later); err != nil || time.Now().Before(later) {
		t.Fatalf("a wait after the failure: %v, ended %s early", err, time.Until(later))
	}
}

// A paced sender's attempt waits for its turn on the process's grid
// clock, and one that gives up leaves it.
func TestPacedAttemptsWaitOnTheGridClock(t *testing.T) {
	c := processGridClock()
	if c == nil {
		t.Fatal("no grid clock on Linux: the timerfd could not be had")
	}
	w0, _ := c.waiting()
	l := newLimiter(RateConfig{RPS: 1.0 / 3600, Concurrency: 4}, func(float64) {}, nil)
	if l.quantum == 0 {
		t.Fatal("a limiter at 1/3600 rps has no grid")
	}
	if err := l.waitToken(context.Background()); err != nil { // the bucket's one token, on the next instant
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- l.waitToken(ctx) }() // turns an hour and two hours away
	}
	poll.Until(t, 10*time.Second, func() bool { w, _ := c.waiting(); return w == w0+2 },
		func() string {
			w, g := c.waiting()
			return fmt.Sprintf("%d waits on %d gates, want %d more waits", w, g, 2)
		})
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled wait for its turn: %v", err)
		}
	}
	if w, _ := c.waiting(); w != w0 {
		t.Fatalf("the cancelled waits are still on the clock: %d waits, %d before", w, w0)
	}
}
