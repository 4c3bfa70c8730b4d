//go:build !linux

package destinations

import (
	"context"
	"time"
)

// processGridClock: without a timerfd each paced attempt waits on a timer
// of its own (gridclock.go).
func processGridClock() *gridClock { return nil }

// gridClock has no implementation outside Linux.
type gridClock struct{}

func (*gridClock) wait(ctx context.Context, at time.Time) error { return waitTimer(ctx, at) }
