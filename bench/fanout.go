package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/router"
)

// Phase E: how the cost grows with the number of destinations reading the
// same source. One router, 1, 4 and 13 destinations, each with its own
// durable consumer; the events are the mix of A and B. The 13 are the
// catalog tools whose endpoint a destination file can point elsewhere
// (settings.endpoint), with their default presets, plus phase B's mapped
// http destination and phase A's forwarding webhook; every one sends to
// the bench sink, which answers 200.
//
// A run ends when every destination settled every event: its consumer
// has acknowledged the last one and holds none (some tools' bodies carry
// no messageId for the sink to find); then its switchyard_events_total
// outcomes must add up to N.

// fanoutDest is one destination of phase E.
type fanoutDest struct {
	name string
	// file is the destination file for a sink URL; the tools' secrets are
	// ${BENCH_SECRET}.
	file func(url string) string
}

// catalogFanout is a catalog tool with its default presets, its endpoint
// at the sink. settings are those of one of the tool's golden cases.
func catalogFanout(tool, settings string) fanoutDest {
	return fanoutDest{name: tool, file: func(url string) string {
		return fmt.Sprintf("type: %s\nsources: [pe]\nstart: all\nsettings:\n  endpoint: %s\n%s", tool, url, settings)
	}}
}

// fanoutDests lists the 13 in the order the smaller sets take them: 1 is
// phase B's mapped destination, 4 adds the forwarding webhook, Amplitude
// (batching) and Braze (a request per event).
func fanoutDests(o options) []fanoutDest {
	dests := []fanoutDest{
		{name: "mapped", file: func(url string) string {
			return workload.MappedDestination("pe", url, o.concurrency, o.inFlight)
		}},
		{name: "forward", file: func(url string) string {
			return workload.BatchingDestination("pe", url, o.batchItems, o.batchInFlight)
		}},
	}
	for _, t := range workload.CatalogTools("BENCH_SECRET") {
		dests = append(dests, catalogFanout(t.Name, t.Settings))
	}
	return dests
}

// fanoutResult is one run of phase E.
type fanoutResult struct {
	dests    []string
	events   int
	wall     time.Duration
	cpu      time.Duration
	peakRSS  int64
	requests int64
	// destRequests counts the requests the sink got per destination.
	destRequests map[string]int64
	others       float64
	outcomes     map[string]map[string]float64 // destination -> outcome -> count
	finished     map[string]time.Duration      // destination -> when it had settled every event
	cpuAt        map[string]time.Duration      // destination -> the router's CPU by then (all lanes)
	switches     int64                         // the router's context switches (a child only)
	faults       int64                         // the router's minor page faults (a child only)
	// roundsCPU is each run's CPU per event, in run order, when the
	// figure is the median of several (phase E's 1 and 4 destinations).
	roundsCPU []time.Duration
	// idleCPU and idleSwitches: over -idle once every destination settled.
	idleCPU      time.Duration
	idleSwitches int64
}

func (f *fanoutResult) pairs() int { return f.events * len(f.dests) }

// cpuPerEvent is the router's CPU per event, all destinations together.
func (f *fanoutResult) cpuPerEvent() time.Duration {
	return f.cpu / time.Duration(f.events)
}

var finalOutcomes = []string{"delivered", "filtered", "unmatched", "invalid", "dead_lettered"}

func (b *bench) phaseE(ctx context.Context) error {
	if err := os.Setenv("BENCH_SECRET", "bench-secret-not-a-real-key"); err != nil {
		return err
	}
	all := fanoutDests(b.o)
	// Each run publishes under its own ids (letter and round): JetStream
	// would drop the same Nats-Msg-Id published again within its duplicate
	// window.
	for i, k := range []int{1, 4, 13} {
		// The runs of 1 and 4 destinations cost 0.2-0.6 s of CPU over
		// about a second, a snapshot of this machine's state, which moves
		// their figure by 15% from one run to the next; 13's spans 20 s.
		// They run -rounds times and the median run is kept.
		rounds := max(1, b.o.rounds)
		if k == 13 {
			rounds = 1
		}
		var runs []*fanoutResult
		for round := range rounds {
			phase := fmt.Sprintf("E%d", k)
			if round > 0 {
				phase += fmt.Sprintf("r%d", round)
			}
			res, err := b.fanout(ctx, phase, all[:k], b.o.fanoutN, "EGH"[i], round)
			if err != nil {
				return fmt.Errorf("%d destinations: %w", k, err)
			}
			runs = append(runs, res)
		}
		m := median(runs, func(f *fanoutResult) float64 { return float64(f.cpuPerEvent()) })
		for _, f := range runs {
			m.roundsCPU = append(m.roundsCPU, f.cpuPerEvent())
		}
		b.rep.e = append(b.rep.e, m)
	}
	return nil
}

// fanout runs one router with dests reading the same n events, published
// under id, until every destination settled every one. phase names its
// configs and sink recorders.
func (b *bench) fanout(ctx context.Context, phase string, dests []fanoutDest, n int, id byte, round int) (*fanoutResult, error) {
	if err := b.nats.resetStream(ctx); err != nil {
		return nil, err
	}
	ev := newEvents(b.o.seed, id, "pe")
	files := map[string]string{}
	res := &fanoutResult{events: n, outcomes: map[string]map[string]float64{}, finished: map[string]time.Duration{}, cpuAt: map[string]time.Duration{}}
	recs := map[string]*recorder{} // destination -> its sink recorder
	for _, d := range dests {
		name := phase + "-" + d.name
		recs[d.name] = b.sink.record(name, n, 200)
		files[d.name] = d.file(b.sink.url(name))
		res.dests = append(res.dests, d.name)
	}
	cfgDir := filepath.Join(b.dir, "config-"+phase)
	admin := freeAddr()
	if err := writeConfigs(cfgDir, b.nats.url, admin, files); err != nil {
		return nil, err
	}
	var r routerRun
	var err error
	if b.o.inprocess {
		r, err = startInproc(ctx, cfgDir, filepath.Join(b.dir, "data-"+phase))
	} else {
		r, err = startChild(ctx, b.bin, cfgDir, filepath.Join(b.dir, "data-"+phase), admin)
	}
	if err != nil {
		return nil, err
	}
	// The router is ready, its consumers made; the events are published
	// now, and the clock and the CPU count run from before the first.
	load := startLoad(childCPU(r))
	t0, cpu0 := time.Now(), r.cpu()
	// A child's context switches and page faults are counted; an
	// in-process router's are not (pid 0 reads as none).
	c, isChild := r.(*child)
	pid := 0
	var flt0 int64
	if isChild {
		pid, flt0 = c.cmd.Process.Pid, c.minorFaults()
	}
	sw0 := ctxSwitches(pid)
	var perf *perfRecord
	if isChild && b.o.perf && (phase == "R" || phase == "E1" || phase == "E13") {
		if perf, err = startPerf(pid, filepath.Join(b.dir, "perf-"+phase+".data")); err != nil {
			r.stop()
			return nil, err
		}
	}
	logf("phase %s (%d destinations): publishing %d events", phase, len(dests), n)
	if _, err := b.nats.publish(ctx, n, func(i int) (string, []byte, string) {
		s, d := ev.next(i)
		return s, d, roundID(id, i, round)
	}); err != nil {
		r.stop()
		return nil, err
	}
	// Done is read from JetStream (each destination's consumer has nothing
	// pending and nothing unacknowledged), not from the router's /metrics:
	// a scrape costs the router CPU, which would be counted as routing.
	st, err := b.nats.js.Stream(ctx, router.EventsStream)
	if err != nil {
		r.stop()
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		r.stop()
		return nil, err
	}
	pubLast := info.State.LastSeq
	lastSettled, lastChange := -1, time.Now()
	for len(res.finished) < len(dests) {
		settled := 0
		for _, d := range dests {
			if _, done := res.finished[d.name]; done {
				settled++
				continue
			}
			c, err := st.Consumer(ctx, router.ConsumerName(d.name))
			if err != nil {
				continue // not created yet
			}
			info, err := c.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= pubLast {
				res.finished[d.name] = time.Since(t0)
				res.cpuAt[d.name] = r.cpu() - cpu0
				settled++
			}
		}
		if settled != lastSettled {
			lastSettled, lastChange = settled, time.Now()
		} else if time.Since(lastChange) > 60*time.Second {
			r.stop()
			return nil, fmt.Errorf("stalled: %d of %d destinations settled every event", settled, len(dests))
		}
		if len(res.finished) == len(dests) {
			break
		}
		select {
		case <-ctx.Done():
			r.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.wall, res.cpu = time.Since(t0), r.cpu()-cpu0
	if isChild {
		res.switches = ctxSwitches(pid) - sw0
		res.faults = c.minorFaults() - flt0
	}
	if perf != nil {
		b.rep.profiles = append(b.rep.profiles, perf.stop("phase "+phase))
	}
	res.others = load.others()
	if b.o.idle > 0 {
		// Every destination settled: what the router costs while idle.
		c0, s0 := r.cpu(), ctxSwitches(pid)
		time.Sleep(b.o.idle)
		res.idleCPU, res.idleSwitches = r.cpu()-c0, ctxSwitches(pid)-s0
		logf("phase %s: idle for %s: router CPU %s, %d context switches", phase, b.o.idle, res.idleCPU, res.idleSwitches)
	}
	text, err := r.metrics()
	if err != nil {
		r.stop()
		return nil, err
	}
	for _, d := range dests {
		res.outcomes[d.name] = map[string]float64{}
		total := 0.0
		for _, o := range append(finalOutcomes, "retried") {
			v, _ := metricValue(text, "switchyard_events_total", fmt.Sprintf(`destination="%s",outcome="%s"`, d.name, o))
			res.outcomes[d.name][o] = v
			if o != "retried" {
				total += v
			}
		}
		if total != float64(n) {
			r.stop()
			return nil, fmt.Errorf("%s: %.0f final outcomes for %d events", d.name, total, n)
		}
	}
	res.peakRSS = r.stop()
	res.destRequests = map[string]int64{}
	for name, rec := range recs {
		res.requests += rec.requests.Load()
		res.destRequests[name] = rec.requests.Load()
	}
	logf("phase %s (%d destinations): %d events × %d in %s: %.0f events/s, %.0f (event, destination) pairs/s, router CPU %s (%.1f µs per event, %.1f µs per pair), other processes %.2f cores",
		phase, len(dests), n, len(dests), res.wall.Round(time.Millisecond), float64(n)/res.wall.Seconds(), float64(res.pairs())/res.wall.Seconds(),
		res.cpu, us(res.cpuPerEvent()), us(res.cpu/time.Duration(res.pairs())), res.others)
	return res, nil
}

// tailNote says how much of a run's CPU the last destination to settle
// took alone, after every other had settled: the tail of a rate-bound lane
// (Intercom's 160 requests/s), paced a few requests per wake-up.
func tailNote(f *fanoutResult, base time.Duration) string {
	if len(f.dests) < 2 || f.cpu <= 0 || base <= 0 {
		return ""
	}
	order := slices.Clone(f.dests)
	slices.SortFunc(order, func(a, b string) int { return cmp.Compare(f.finished[a], f.finished[b]) })
	last, prev := order[len(order)-1], order[len(order)-2]
	tail := f.cpu - f.cpuAt[prev]
	if tail <= 0 {
		return ""
	}
	return fmt.Sprintf("\nOnce every destination but %s had settled (%s, router CPU %s), %s alone took %s of CPU until it settled at %s: %.0f%% of the run's. Up to then, the router had spent %.1f µs per event on the %d destinations (%.2f × one destination's).\n",
		last, f.finished[prev].Round(time.Millisecond), f.cpuAt[prev].Round(10*time.Millisecond), last, tail.Round(10*time.Millisecond), f.finished[last].Round(time.Millisecond),
		100*tail.Seconds()/f.cpu.Seconds(), us(f.cpuAt[prev])/float64(f.events), len(order), float64(f.cpuAt[prev])/float64(f.events)/float64(base))
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// writeConfigs writes a config directory with several destinations.
func writeConfigs(dir, natsURL, adminListen string, dests map[string]string) error {
	first := true
	for name, body := range dests {
		if first {
			if err := writeConfig(dir, natsURL, adminListen, name, body); err != nil {
				return err
			}
			first = false
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "destinations", name+".yaml"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fanoutMarkdown is phase E's table and the decision figure: the CPU per
// event of 13 destinations against one's.
func (r *report) fanoutMarkdown() string {
	if len(r.e) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\n#### Destinations reading one source (phase E)\n\n")
	fmt.Fprintf(&sb, "%d events of the mix, published once the router is ready (the clock and the CPU count start before the first); one router; each destination its own consumer. 1: phase B's mapped http destination; 4: plus the forwarding webhook, Amplitude and Braze; 13: plus Mixpanel, Customer.io, GA4, Iterable, PostHog, Segment, SendGrid, Airship and Intercom (catalog tools with their default presets, `settings.endpoint` at the sink).\n\n", r.e[0].events)
	sb.WriteString("| destinations | time | events/s | events/s × destinations | requests | router CPU | CPU per event | CPU per (event, destination) | × one destination's CPU per event | peak RSS | other processes |\n")
	sb.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	base := r.e[0].cpuPerEvent()
	for _, f := range r.e {
		fmt.Fprintf(&sb, "| %d | %s | %s | %s | %s | %s | %.1f µs | %.1f µs | %.2f | %s | %.2f cores |\n",
			len(f.dests), f.wall.Round(time.Millisecond), num(float64(f.events)/f.wall.Seconds()), num(float64(f.pairs())/f.wall.Seconds()),
			num(float64(f.requests)), f.cpu.Round(10*time.Millisecond), us(f.cpuPerEvent()), us(f.cpu/time.Duration(f.pairs())),
			float64(f.cpuPerEvent())/float64(base), mb(f.peakRSS), f.others)
	}
	for _, f := range r.e {
		if len(f.roundsCPU) > 1 {
			parts := make([]string, len(f.roundsCPU))
			for i, c := range f.roundsCPU {
				parts[i] = fmt.Sprintf("%.1f", us(c))
			}
			fmt.Fprintf(&sb, "\n%d destinations: the run of median CPU per event of %d (%s µs, in run order).", len(f.dests), len(f.roundsCPU), strings.Join(parts, ", "))
		}
	}
	if r.e[0].faults > 0 {
		// perf put 17% of 13 destinations' CPU in these faults (the kernel
		// zeroing the pages), against 5% of one's: docs/performance.md.
		parts := make([]string, len(r.e))
		for i, f := range r.e {
			parts[i] = fmt.Sprintf("%d: %s (%.1f KB per event)", len(f.dests), num(float64(f.faults)), float64(f.faults)*float64(os.Getpagesize())/1024/float64(f.events))
		}
		fmt.Fprintf(&sb, "\nThe router's minor page faults over each run, pages its heap grew into or took back after returning them: %s.", strings.Join(parts, ", "))
	}
	sb.WriteString("\n")
	last := r.e[len(r.e)-1]
	sb.WriteString("\nOutcomes of the largest run, per destination (every pair ends in one), when each had settled every event, and the router's CPU by then (all destinations):\n\n| destination | delivered | filtered | unmatched | invalid | dead_lettered | retried | requests | settled all after | router CPU by then |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, d := range last.dests {
		o := last.outcomes[d]
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", d, num(o["delivered"]), num(o["filtered"]), num(o["unmatched"]), num(o["invalid"]), num(o["dead_lettered"]), num(o["retried"]), num(float64(last.destRequests[d])), last.finished[d].Round(time.Millisecond), last.cpuAt[d].Round(10*time.Millisecond))
	}
	sb.WriteString(tailNote(last, base))
	if r.opts.idle > 0 {
		fmt.Fprintf(&sb, "\nIdle, once every destination had settled: %d destinations cost the router %s of CPU and %s context switches in %s.\n",
			len(last.dests), last.idleCPU.Round(10*time.Millisecond), num(float64(last.idleSwitches)), r.opts.idle)
	}
	return sb.String()
}
