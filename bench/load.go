package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadMeter measures how much CPU other processes took during a
// measurement: the machine's busy time (/proc/stat) minus this process's
// and the router child's. On a shared machine a figure taken while others
// were busy is not this machine's ceiling; the report shows it.
type loadMeter struct {
	start     time.Time
	busy, own time.Duration
	child     func() time.Duration // nil when the router runs in this process
	child0    time.Duration
}

func startLoad(child func() time.Duration) *loadMeter {
	m := &loadMeter{start: time.Now(), busy: machineBusy(), own: selfCPU(), child: child}
	if child != nil {
		m.child0 = child()
	}
	return m
}

// others returns the cores other processes used on average since start.
func (m *loadMeter) others() float64 {
	wall := time.Since(m.start)
	busy := machineBusy() - m.busy
	own := selfCPU() - m.own
	if m.child != nil {
		own += m.child() - m.child0
	}
	if wall <= 0 {
		return 0
	}
	return max(0, (busy-own).Seconds()/wall.Seconds())
}

// ours is the CPU time this process (nats-server, the sink, a ceiling's
// client) and the router child used since start: what a phase cost the
// machine, less what other processes took meanwhile, for phase B's
// account of where its events' CPU goes.
func (m *loadMeter) ours() time.Duration {
	d := selfCPU() - m.own
	if m.child != nil {
		d += m.child() - m.child0
	}
	return d
}

// machineBusy is the CPU time all cores spent outside idle and iowait,
// steal included (a VM's neighbours taking our cores).
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
