// Package poll waits in tests for a condition that something else brings
// about (a lane settling, a breaker's cooldown ending), up to a deadline,
// so that no test depends on how long a sleep lasts or on the scheduler.
package poll

import (
	"testing"
	"time"
)

// Interval is how often Until checks. A check is cheap, and the interval
// only bounds how late a met condition is noticed: it cannot make a test
// flake, the deadline alone can fail it.
const Interval = 5 * time.Millisecond

// Until checks cond every Interval until it holds, and fails t once
// within has passed, with msg saying what was awaited and what is.
func Until(t testing.TB, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", within, msg())
		}
		time.Sleep(Interval)
	}
}
