//go:build linux

package destinations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// gridClock releases the attempts waiting for instants of the grid from
// one timerfd (gridclock.go says why).
//
// Lock order: mu is a leaf. The timerfd is armed under mu, so that the
// armed instant and the gates agree; nothing else is done under it but
// closing the gates' channels.
//
// Goroutines: run, started by the first wait when none is running, reads
// the timerfd and opens the gates whose instant came; it ends when no gate
// is left (a wait that leaves the last one arms the timerfd at once, to
// wake it), so that an idle process holds no goroutine of the clock.
type gridClock struct {
	fd   int
	file *os.File // owns fd, and keeps it open for the clock's life
	conn syscall.RawConn

	mu    sync.Mutex
	gates map[time.Duration]*gridGate // by instant, as an offset from paceEpoch
	// order holds the gates' instants, earliest first: the clock opens the
	// gates due from its head, without looking at the others (a lane at
	// its concurrency limit holds turns seconds ahead, a few per instant).
	order   []time.Duration
	armed   time.Duration // the instant the timerfd is armed for, when isArmed
	isArmed bool
	running bool // run is alive
	broken  bool // the timerfd failed: gates wait on timers of their own
}

// gridGate is one instant's waiters: open is closed when it comes.
type gridGate struct {
	at      time.Time
	open    chan struct{}
	waiters int
}

// gridArmMargin is added to each arming of the timerfd: the kernel's
// monotonic clock is read a moment before Go's, so that without it the
// timerfd could fire a few nanoseconds before Go's clock says the instant
// came, and be armed again at once.
const gridArmMargin = 20 * time.Microsecond

// processGridClock is the process's clock, nil when the timerfd cannot be
// had (a seccomp profile that refuses it): attempts then wait on timers.
var processGridClock = sync.OnceValue(func() *gridClock {
	c, err := newGridClock()
	if err != nil {
		slog.Warn("pacing: no timerfd; paced requests wait on timers of their own (each costs the process more wake-ups)", "err", err)
		return nil
	}
	return c
})

func newGridClock() (*gridClock, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pacing-grid-clock")
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return &gridClock{fd: fd, file: f, conn: conn, gates: map[time.Duration]*gridGate{}}, nil
}

// wait waits until at, or until ctx ends (its error); it never returns nil
// before at.
func (c *gridClock) wait(ctx context.Context, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := at.Sub(paceEpoch)
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return waitTimer(ctx, at)
	}
	g := c.gates[key]
	if g == nil {
		g = &gridGate{at: at, open: make(chan struct{})}
		c.gates[key] = g
		i, _ := slices.BinarySearch(c.order, key)
		c.order = slices.Insert(c.order, i, key)
		if !c.isArmed || key < c.armed {
			c.armLocked(key, at)
		}
		if !c.running {
			c.running = true
			go c.run()
		}
	}
	g.waiters++
	c.mu.Unlock()
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		c.leave(key, g)
		return ctx.Err()
	}
}

// leave takes a waiter that gave up off its gate, and the gate off the
// clock when it was the last.
func (c *gridClock) leave(key time.Duration, g *gridGate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gates[key] != g {
		return // opened meanwhile
	}
	if g.waiters--; g.waiters > 0 {
		return
	}
	delete(c.gates, key)
	if i, ok := slices.BinarySearch(c.order, key); ok {
		c.order = slices.Delete(c.order, i, i+1)
	}
	if len(c.gates) == 0 && c.running && !c.broken {
		// Wake run now, to end: its instant has no one left to release.
		c.armLocked(key, time.Time{})
	}
}

// armLocked arms the timerfd for at (key is its offset), or to fire at
// once when at is zero. c.mu is held.
func (c *gridClock) armLocked(key time.Duration, at time.Time) {
	spec := unix.ItimerSpec{Value: unix.Timespec{Nsec: 1}} // absolute 1 ns: long past, fires at once
	if !at.IsZero() {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
			c.breakLocked(fmt.Errorf("clock_gettime: %w", err))
			return
		}
		spec.Value = unix.NsecToTimespec(now.Nano() + int64(max(time.Until(at), 0)+gridArmMargin))
	}
	if err := unix.TimerfdSettime(c.fd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
		c.breakLocked(fmt.Errorf("timerfd_settime: %w", err))
		return
	}
	c.armed, c.isArmed = key, true
}

// run opens the gates whose instant came each time the timerfd fires.
func (c *gridClock) run() {
	var buf [8]byte
	for {
		err := c.conn.Read(func(fd uintptr) bool {
			// The expiration count; EAGAIN: not yet, wait in the poller.
			_, err := unix.Read(int(fd), buf[:])
			return !errors.Is(err, unix.EAGAIN)
		})
		now := time.Now()
		c.mu.Lock()
		if err != nil {
			c.breakLocked(fmt.Errorf("reading the timerfd: %w", err))
		}
		if c.broken {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.isArmed = false
		due := 0
		for _, key := range c.order {
			g := c.gates[key]
			if g.at.After(now) {
				break
			}
			close(g.open)
			delete(c.gates, key)
			due++
		}
		c.order = slices.Delete(c.order, 0, due)
		if len(c.order) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		next := c.order[0]
		c.armLocked(next, c.gates[next].at)
		c.mu.Unlock()
	}
}

// breakLocked gives the timerfd up: each gate still closed opens on a
// timer of its own at its instant, and later waits use timers. c.mu is
// held.
func (c *gridClock) breakLocked(err error) {
	if c.broken {
		return
	}
	c.broken = true
	// Logged off the lock.
	go slog.Error("pacing: the grid clock's timerfd failed; paced requests wait on timers of their own from now on", "err", err)
	for key, g := range c.gates {
		delete(c.gates, key)
		time.AfterFunc(time.Until(g.at), func() { close(g.open) })
	}
	c.order = nil
	if c.running {
		// run ends when it next wakes; arm it to wake now, if the timerfd
		// still can.
		_ = unix.TimerfdSettime(c.fd, unix.TFD_TIMER_ABSTIME, &unix.ItimerSpec{Value: unix.Timespec{Nsec: 1}}, nil)
	}
}

// waiting is how many waits the clock holds, and on how many gates.
func (c *gridClock) waiting() (waits, gates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.gates {
		waits += g.waiters
	}
	return waits, len(c.gates)
}
