package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router"
)

type phaseResult struct {
	phase      byte
	runner     string
	events     int
	wall       time.Duration
	eps        float64
	publishEPS float64
	cpu        time.Duration
	peakRSS    int64 // KiB: VmHWM
	requests   int64
	dups       int64
	others     float64 // cores other processes used meanwhile
	// procCPU is the CPU the router and this process (nats-server, the
	// sink) used during the drain.
	procCPU time.Duration
	// counted is what the router child did over a drain (A, B, W).
	counted counts
	// phase C
	p50, p99, max time.Duration
	latN          int
	// phase D
	peakSampled, lastRSS, hwm int64 // KiB
	waiting, held, retried    int64
}

type ceiling struct {
	name   string
	eps    float64
	others float64
	// perOp is the CPU this process (and the router, if running) used per
	// event or request while the ceiling ran; 0 if not measured.
	perOp time.Duration
}

type report struct {
	opts                    options
	machine                 string
	loadBefore, loadAfter   string
	total                   time.Duration
	a, b, c, d, w           *phaseResult
	js                      []ceiling
	http                    ceiling
	bJS                     ceiling // B's median round's JetStream consume ceiling
	bDecodeNs, bRouteNs     float64 // B's median round's in-process costs
	decodeNs, routeNs       float64 // at router.GCPercent
	decodeOwnGC, routeOwnGC float64 // at the bench's GOGC, ownGC
	ownGC                   int
	aRatios, bRatios        []float64 // each round's, in run order
	mapRounds               int       // rounds the mapping and decoding costs are the median of
	profiles                []string
	e                       []*fanoutResult
	r                       *fanoutResult
	f                       *slowResult
	peers                   []peerResult
	m                       *floodResult
}

// Targets of issues 7 and 16.
const (
	targetBatchRatio = 0.6
	targetHTTPRatio  = 0.6
	targetMapNs      = 5000
	targetDecodeNs   = 5000
	targetForwardKiB = 100 * 1000 // 100 MB
	targetRSSKiB     = 150 * 1000 // 150 MB
	targetP99        = 25 * time.Millisecond
	targetFanout     = 6.0 // issue 16: 13 destinations at most 6 × one's CPU per event
)

func (r *report) bestJS() ceiling { return bestOf(r.js) }

// bestOf is the fastest of cs, the ceiling a ratio is taken to.
func bestOf(cs []ceiling) ceiling {
	var best ceiling
	for _, c := range cs {
		if c.eps > best.eps {
			best = c
		}
	}
	return best
}

func passMiss(ok bool, miss string) string {
	if ok {
		return "**PASS**"
	}
	return "**MISS** (" + miss + ")"
}

func (r *report) command() string {
	args := os.Args[1:]
	if len(args) == 0 {
		return "make bench"
	}
	return "make bench BENCHFLAGS='" + strings.Join(args, " ") + "'"
}

func (r *report) markdown() string {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	w("## switchyard benchmark\n\n")
	w("- Machine: %s\n", r.machine)
	w("- Command: `%s` (`go run ./bench %s`)\n", r.command(), strings.Join(os.Args[1:], " "))
	if strings.ContainsAny(r.opts.phases, "AB") {
		w("- Workload: %d events per drain phase, seed %d: 40%% identify with traits, 30%% Order Completed with 3-5 products (strings as numbers), 30%% page\n", r.opts.n, r.opts.seed)
	} else {
		w("- Workload: seed %d; each phase below says its events\n", r.opts.seed)
	}
	w("- Router: %s; load average before %s, after %s; the run took %s\n\n", r.runner(), r.loadBefore, r.loadAfter, r.total.Round(time.Second))

	w("### Targets\n\n| figure | measured | target | result |\n| --- | --- | --- | --- |\n")
	if r.a != nil && len(r.js) > 0 {
		best := r.bestJS()
		ratio := r.a.eps / best.eps
		w("| batching destination (A) | %s events/s = **%.2f ×** the JetStream ceiling (%s/s, %s)%s | ≥ %.1f × | %s |\n",
			num(r.a.eps), ratio, num(best.eps), best.name, roundsNote(r.aRatios), targetBatchRatio, passMiss(ratio >= targetBatchRatio, fmt.Sprintf("%.0f%% short", (1-ratio/targetBatchRatio)*100)))
	}
	if r.b != nil && r.http.eps > 0 {
		ratio := r.b.eps / r.http.eps
		w("| non-batching destination (B) | %s events/s = **%.2f ×** the raw HTTP ceiling (%s/s, %s)%s | ≥ %.1f × | %s |\n",
			num(r.b.eps), ratio, num(r.http.eps), r.http.name, roundsNote(r.bRatios), targetHTTPRatio, passMiss(ratio >= targetHTTPRatio, fmt.Sprintf("%.0f%% short", (1-ratio/targetHTTPRatio)*100)))
	}
	if r.routeNs > 0 {
		w("| mapping cost, 10-field action (Plan.Route, mean over B's %d events, in process, 256 held at once as a lane holds them, at the router's GOGC %d%s) | %.1f µs/event (%.1f at GOGC %d) | ≤ 5 µs | %s |\n",
			r.opts.n, router.GCPercent, medianNote(r.mapRounds), r.routeNs/1000, r.routeOwnGC/1000, r.ownGC, passMiss(r.routeNs <= targetMapNs, fmt.Sprintf("%.1f× over", r.routeNs/targetMapNs)))
		w("| decoding cost, the same events (mappings.Decode, about 1 KB each) | %.1f µs/event (%.1f at GOGC %d) | ≤ 5 µs | %s |\n",
			r.decodeNs/1000, r.decodeOwnGC/1000, r.ownGC, passMiss(r.decodeNs <= targetDecodeNs, fmt.Sprintf("%.1f× over", r.decodeNs/targetDecodeNs)))
	}
	if r.w != nil {
		w("| router RSS, forwarding webhook draining %s events, one request per event (W) | %s peak (VmHWM); %s events/s | ≤ 100 MB | %s |\n",
			num(float64(r.w.events)), mb(r.w.peakRSS), num(r.w.eps), passMiss(r.w.peakRSS <= targetForwardKiB, fmt.Sprintf("%.1f× over", float64(r.w.peakRSS)/targetForwardKiB)))
	}
	if r.d != nil {
		peak := max(r.d.peakSampled, r.d.hwm)
		w("| router RSS, %s events behind an open breaker (D) | %s peak (VmHWM), %s at the end | ≤ 150 MB | %s |\n",
			num(float64(r.d.events)), mb(peak), mb(r.d.lastRSS), passMiss(peak <= targetRSSKiB, fmt.Sprintf("%.1f× over", float64(peak)/targetRSSKiB)))
	}
	if r.c != nil {
		w("| p99 added latency at %s events/s (C) | %s (p50 %s) | ≤ 25 ms | %s |\n",
			num(float64(r.opts.rate)), ms(r.c.p99), ms(r.c.p50), passMiss(r.c.p99 <= targetP99, fmt.Sprintf("%.1f× over", float64(r.c.p99)/float64(targetP99))))
	}
	if n := len(r.e); n > 1 {
		one, all := r.e[0], r.e[n-1]
		x := float64(all.cpuPerEvent()) / float64(one.cpuPerEvent())
		w("| CPU per event, %d destinations against 1 (E) | %.1f µs against %.1f µs = **%.2f ×** | ≤ %.0f × | %s |\n",
			len(all.dests), us(all.cpuPerEvent()), us(one.cpuPerEvent()), x, targetFanout, passMiss(x <= targetFanout, fmt.Sprintf("%.0f%% over", (x/targetFanout-1)*100)))
	}
	if f := r.f; f != nil {
		ratio := f.eps / f.boundEPS
		w("| slow tool (%s per answer, F) | %s events/s = **%.2f ×** what max_in_flight allows (%s/s) | ≥ %.1f × | %s |\n",
			f.delay, num(f.eps), ratio, num(f.boundEPS), targetSlowRatio, passMiss(f.targetPass, fmt.Sprintf("%.0f%% short", (1-ratio/targetSlowRatio)*100)))
	}
	w("%s", r.peersTargets())

	w("\n### Phases\n\n| phase | events | time | events/s | requests | router CPU | CPU per event | cores used | peak RSS | latency p50 / p99 / max | other processes |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n")
	row := func(name string, p *phaseResult) {
		if p == nil {
			return
		}
		lat := "—"
		if p.latN > 0 {
			lat = fmt.Sprintf("%s / %s / %s", ms(p.p50), ms(p.p99), ms(p.max))
		}
		wall, eps := p.wall.Round(time.Millisecond).String(), num(p.eps)
		if p.phase == 'D' {
			wall, eps = fmt.Sprintf("%s sampled", r.opts.rssWindow), "—"
		}
		perEvent, cores := "—", "—"
		if p.events > 0 && p.phase != 'D' {
			perEvent = fmt.Sprintf("%.1f µs", float64(p.cpu.Microseconds())/float64(p.events))
			cores = fmt.Sprintf("%.2f", p.cpu.Seconds()/p.wall.Seconds())
		}
		peak := p.peakRSS
		if p.phase == 'D' {
			peak = max(p.peakSampled, p.hwm)
		}
		others := "—"
		if p.phase != 'D' {
			others = fmt.Sprintf("%.2f cores", p.others)
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, num(float64(p.events)), wall, eps, num(float64(p.requests)), p.cpu.Round(10*time.Millisecond), perEvent, cores, mb(peak), lat, others)
	}
	row(fmt.Sprintf("A: batching webhook (max_items %d, max_in_flight %d), drain", r.opts.batchItems, r.opts.batchInFlight), r.a)
	row(fmt.Sprintf("B: http, 10-field action (concurrency %d, max_in_flight %d), drain", r.opts.concurrency, r.opts.inFlight), r.b)
	row("W: webhook forwarding each event (defaults: max_in_flight 256, adaptive concurrency), drain", r.w)
	row(fmt.Sprintf("C: B's destination at %d events/s for %s (first %s left out of the percentiles)", r.opts.rate, r.opts.steady, r.opts.warmup), r.c)
	if r.d != nil {
		row(fmt.Sprintf("D: webhook behind an open breaker (sink answers 503, cooldown 5s): %s waiting in JetStream, %s delivered and nak'd, %s retried, %s requests", num(float64(r.d.waiting)), num(float64(r.d.held)), num(float64(r.d.retried)), num(float64(r.d.requests))), r.d)
	}
	w("\nRouter CPU is the child's utime + stime over the phase (from /proc/<pid>/stat); peak RSS is its VmHWM from /proc/<pid>/status at the end of the phase (phase D: also VmRSS sampled every 100 ms). Other processes: the machine's busy CPU (/proc/stat, steal included) minus the bench's and the router's, during the measurement: a figure taken while they were well above 0 understates this machine.")
	var pubs []string
	for _, p := range []*phaseResult{r.a, r.b, r.w, r.d} {
		if p != nil && p.publishEPS > 0 {
			pubs = append(pubs, fmt.Sprintf("%c %s/s", p.phase, num(p.publishEPS)))
		}
	}
	if len(pubs) > 0 {
		w(" Publish rates (async, 4,096 pending): %s.", strings.Join(pubs, ", "))
	}
	var counted []string
	for _, p := range []*phaseResult{r.a, r.b, r.w} {
		if p != nil && p.events > 0 && p.counted.switches >= 0 {
			per := func(v int64) string {
				if v < 0 {
					return "—"
				}
				return fmt.Sprintf("%.1f", float64(v)*1000/float64(p.events))
			}
			counted = append(counted, fmt.Sprintf("%c %s / %s / %s", p.phase, per(p.counted.switches), per(p.counted.faults), per(p.counted.gcs)))
		}
	}
	if len(counted) > 0 {
		w(" The router's context switches (all its threads, /proc/<pid>/task/*/status), minor page faults and garbage collections (`go_gc_duration_seconds_count` from its /metrics, read before and after) per 1,000 events of each drain: %s.", strings.Join(counted, "; "))
	}
	w("\n")

	if len(r.js) > 0 || r.http.eps > 0 {
		w("\n### Ceilings (same run, same machine, same N events)\n\n| ceiling | events/s | other processes |\n| --- | ---: | ---: |\n")
		best := r.bestJS()
		for _, c := range r.js {
			mark := ""
			if c == best {
				mark = " (the ceiling)"
			}
			w("| JetStream durable consume + ack, no work: %s%s | %s | %.2f cores |\n", c.name, mark, num(c.eps), c.others)
		}
		if r.http.eps > 0 {
			w("| raw HTTP: B's bodies, %s, to the same sink | %s | %.2f cores |\n", r.http.name, num(r.http.eps), r.http.others)
		}
	}
	w("%s", r.bAccountMarkdown())
	w("%s%s%s%s%s", r.fanoutMarkdown(), r.rateLaneMarkdown(), r.slowMarkdown(), r.peersMarkdown(), r.floodMarkdown())
	w("\n")
	return sb.String()
}

func (r *report) runner() string {
	child := "the switchyard binary as a child process"
	if len(routerEnv) > 0 {
		child += " with " + strings.Join(routerEnv, " ") + " added to its environment (-router-env)"
	}
	for _, p := range []*phaseResult{r.a, r.b, r.w, r.c, r.d} {
		if p != nil {
			if strings.HasPrefix(p.runner, "switchyard") {
				return child
			}
			return p.runner
		}
	}
	if r.opts.inprocess {
		return "router.New in the bench process"
	}
	return child
}

// num prints 123456.7 as 123,457.
func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func mb(kib int64) string {
	if kib <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MB", float64(kib)*1024/1e6)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// roundsNote says that a ratio is the median of several rounds, and
// lists them all, in the order they ran.
func roundsNote(rs []float64) string {
	if len(rs) < 2 {
		return ""
	}
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf(": the median of %d rounds, each its drain then its ceiling (%s ×, in run order)", len(rs), strings.Join(parts, ", "))
}

// medianNote says over how many rounds a cost is the median.
func medianNote(n int) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf("; the median of %d rounds' means", n)
}
