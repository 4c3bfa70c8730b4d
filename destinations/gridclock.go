package destinations

import (
	"context"
	"time"
)

// The grid clock: how a paced attempt waits for its instant of the grid
// (pace.go).
//
// Go's timers are run by the thread that waits in the network poller,
// whose timeout (epoll_wait on Linux) counts whole milliseconds: a timer
// due in 49.3 ms wakes that thread 0.3 ms early, finds nothing due, and
// sleeps another full millisecond (golang/go#53824). Meanwhile Go's sysmon,
// which sleeps until the next timer with a precise timeout, wakes on time,
// sees a timer overdue and polls every 20 µs until it has run. On a
// rate-bound lane that was, at each instant of the grid, two wake-ups of
// the poller and four to six of sysmon before a request could start: in
// bench phase R, 5-6 of sysmon's 12 sleeps per instant and about a fifth
// of the router's context switches (docs/performance.md).
//
// On Linux the attempts waiting for an instant wait on one process-wide
// timerfd instead (gridclock_linux.go): the kernel wakes the poller when
// the earliest instant comes, to the microsecond, and no Go timer is due
// then for sysmon to poll. The attempts of one instant share a gate, of
// every lane, as every lane's grid is a subdivision of the same 50 ms grid:
// one wake-up releases them all. Elsewhere, or if the timerfd cannot be
// had, each waits on a timer of its own, as before.
//
// The clock never opens a gate before its instant by Go's own clock
// (time.Now): a timerfd that fires early is armed again.

// waitGrid waits until at, an instant of the grid, or until ctx ends (its
// error). It never returns nil before at.
func waitGrid(ctx context.Context, at time.Time) error {
	if c := processGridClock(); c != nil {
		return c.wait(ctx, at)
	}
	return waitTimer(ctx, at)
}

// waitTimer waits until at on a timer of its own, or until ctx ends.
func waitTimer(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
