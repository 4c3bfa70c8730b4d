//go:build unix

package destinations

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time so far (user and system), for the
// benchmarks' CPU per request: unlike wall time, it does not grow with what
// other processes on the machine do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
