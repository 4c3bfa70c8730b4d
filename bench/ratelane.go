package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Phase R: one rate-bound lane alone. Customer.io with its Track API v1
// presets (one request per event, no batching; the default is the v2
// batch) and its documented 100 requests/s drains -rate-n events to the sink; the figure is the router's CPU per
// event, and its threads' context switches per event: at 100 events a
// second nothing amortises a wake-up, so what a lane does per event (a
// timer, a pull, an ack, the HTTP exchange's goroutines) shows here, as it
// did in phase E's 13-destination tail (docs/performance.md).

func (b *bench) phaseR(ctx context.Context) error {
	if err := os.Setenv("BENCH_SECRET", "bench-secret-not-a-real-key"); err != nil {
		return err
	}
	cio := fanoutDest{name: "customerio", file: func(url string) string {
		return catalogFanout("customerio", "  site_id: 46be54768e7d49ab2628\n  api_key: ${BENCH_SECRET}\n").file(url) +
			"presets: [identify, track, track_anonymous, page, screen, page_anonymous, screen_anonymous]\n"
	}}
	res, err := b.fanout(ctx, "R", []fanoutDest{cio}, b.o.rateN, 'L', 0)
	if err != nil {
		return err
	}
	b.rep.r = res
	return nil
}

// ctxSwitches sums the voluntary and involuntary context switches of a
// process's threads (/proc/<pid>/task/*/status); threads that already
// exited are not counted (the Go runtime seldom ends one).
func ctxSwitches(pid int) int64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return 0
	}
	var n int64
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

func (r *report) rateLaneMarkdown() string {
	f := r.r
	if f == nil {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\n#### A rate-bound lane alone (phase R)\n\n")
	fmt.Fprintf(&sb, "Customer.io with its Track API v1 presets (one request per event; its default is the v2 batch) and its documented 100 requests/s, draining %s events of the mix to the sink; the clock and the CPU count start before the first is published. Context switches: the router's threads', voluntary and involuntary (/proc/<pid>/task/*/status).\n\n", num(float64(f.events)))
	sb.WriteString("| events | time | events/s | requests | router CPU | CPU per event | context switches per event | peak RSS | other processes |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %.1f µs | %.1f | %s | %.2f cores |\n",
		num(float64(f.events)), f.wall.Round(time.Millisecond), num(float64(f.events)/f.wall.Seconds()), num(float64(f.requests)),
		f.cpu.Round(10*time.Millisecond), us(f.cpuPerEvent()), float64(f.switches)/float64(f.events), mb(f.peakRSS), f.others)
	return sb.String()
}
