// Command bench is switchyard's end-to-end benchmark (`make bench`).
//
// It starts a nats-server with JetStream and an HTTP sink in this process,
// builds the switchyard binary, and runs it as a child process on generated
// configs, one phase at a time:
//
//	A  drain N published events through a batching webhook (JSON arrays)
//	B  drain N published events through an http destination mapping ten
//	   fields with Segment helpers, one request per event
//	C  a steady 2,000 events/s through B's destination: publish→delivered
//	   latency
//	D  1,000,000 small events waiting behind an open breaker: router RSS
//
// and, only when asked (-phases), the longer E, R, F, P and M (the embedded
// shape under a malformed flood: `serve` with its own nats-server).
//
// In the same run it measures the machine's ceilings: JetStream durable
// consume + ack of the same N events doing nothing else (nats.go, the
// router's Fetch style, and Consume and Messages), and raw HTTP POSTs of
// B's exact bodies to the same sink at the same concurrency. It prints the
// figures, the ratios and PASS/MISS per target as markdown on stdout;
// progress goes to stderr.
//
//	go run ./bench [-n 200000] [-skip-rss] [-inprocess -cpuprofile cpu.out]
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/router"
)

func main() {
	o := parseOptions()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, o)
	if err != nil {
		if b != nil {
			b.close()
		}
		fatalf("%v", err)
	}
	defer b.close()
	if err := b.run(ctx); err != nil {
		b.close()
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

type bench struct {
	o       options
	dir     string
	bin     string
	nats    *natsClient
	sink    *sink
	stopSrv func()
	rep     report
}

func newBench(ctx context.Context, o options) (*bench, error) {
	dir, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, dir: dir}
	b.rep.opts = o
	b.rep.machine = describeMachine()
	b.rep.loadBefore = loadAvg()
	srv, err := startNATS(filepath.Join(dir, "nats"))
	if err != nil {
		return b, err
	}
	b.stopSrv = func() { srv.Shutdown(); srv.WaitForShutdown() }
	if b.nats, err = connectNATS(ctx, srv.ClientURL()); err != nil {
		return b, err
	}
	if b.sink, err = startSink(); err != nil {
		return b, err
	}
	if !o.inprocess {
		logf("building the switchyard binary")
		if b.bin, err = buildBinary(dir); err != nil {
			return b, err
		}
	}
	logf("nats-server %s (store %s), sink %s", srv.ClientURL(), filepath.Join(dir, "nats"), b.sink.base)
	return b, nil
}

func (b *bench) close() {
	if b.sink != nil {
		b.sink.close()
		b.sink = nil
	}
	if b.nats != nil {
		b.nats.nc.Close()
		b.nats = nil
	}
	if b.stopSrv != nil {
		b.stopSrv()
		b.stopSrv = nil
	}
	if b.dir != "" {
		if b.o.keep {
			logf("kept %s", b.dir)
		} else {
			_ = os.RemoveAll(b.dir)
		}
		b.dir = ""
	}
}

func (b *bench) run(ctx context.Context) error {
	start := time.Now()
	var prof *os.File
	if b.o.cpuprofile != "" {
		var err error
		if prof, err = os.Create(b.o.cpuprofile); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
	}
	stopProfile := func() {
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			prof = nil
		}
	}
	defer stopProfile()
	if strings.Contains(b.o.phases, "A") {
		if err := b.phaseA(ctx); err != nil {
			return fmt.Errorf("phase A: %w", err)
		}
	}
	if strings.Contains(b.o.phases, "B") {
		if err := b.phaseB(ctx); err != nil {
			return fmt.Errorf("phase B: %w", err)
		}
	}
	if strings.Contains(b.o.phases, "W") {
		if err := b.phaseW(ctx); err != nil {
			return fmt.Errorf("phase W: %w", err)
		}
	}
	if strings.Contains(b.o.phases, "C") {
		if err := b.phaseC(ctx); err != nil {
			return fmt.Errorf("phase C: %w", err)
		}
	}
	stopProfile()
	for _, p := range []struct {
		name string
		run  func(context.Context) error
	}{{"E", b.phaseE}, {"R", b.phaseR}, {"F", b.phaseF}, {"P", b.phaseP}, {"M", b.phaseM}} {
		if strings.Contains(b.o.phases, p.name) {
			if err := p.run(ctx); err != nil {
				return fmt.Errorf("phase %s: %w", p.name, err)
			}
		}
	}
	if strings.Contains(b.o.phases, "D") {
		if err := b.phaseD(ctx); err != nil {
			return fmt.Errorf("phase D: %w", err)
		}
	}
	b.rep.loadAfter = loadAvg()
	b.rep.total = time.Since(start)
	md := b.rep.markdown()
	if b.o.cpuprofile != "" {
		md += profileTop(b.o.cpuprofile)
	}
	for _, p := range b.rep.profiles {
		md += p
	}
	fmt.Print(md)
	if b.o.out != "" {
		if err := os.WriteFile(b.o.out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// childCPU is the child's CPU clock for a loadMeter (nil in process).
func childCPU(r routerRun) func() time.Duration {
	if c, ok := r.(*child); ok {
		return c.cpu
	}
	return nil
}

// startRouter runs the router on a config directory with one destination.
func (b *bench) startRouter(ctx context.Context, phase, destName, dest string) (routerRun, error) {
	cfgDir := filepath.Join(b.dir, "config-"+phase)
	admin := freeAddr()
	if err := writeConfig(cfgDir, b.nats.url, admin, destName, dest); err != nil {
		return nil, err
	}
	data := filepath.Join(b.dir, "data-"+phase)
	if b.o.inprocess {
		return startInproc(ctx, cfgDir, data)
	}
	return startChild(ctx, b.bin, cfgDir, data, admin)
}

// drain is phases A and B: publish N events, then start the router and
// time it from ready to the last event's arrival at the sink.
// round counts a phase's repetitions: -perf profiles the first only.
func (b *bench) drain(ctx context.Context, phase byte, n int, destName string, mkDest func(url string) string, round int) (*phaseResult, error) {
	src := "p" + strings.ToLower(string(phase))
	if err := b.nats.resetStream(ctx); err != nil {
		return nil, err
	}
	ev := newEvents(b.o.seed, phase, src)
	logf("phase %c: publishing %d events", phase, n)
	pub, err := b.nats.publish(ctx, n, func(i int) (string, []byte, string) {
		s, d := ev.next(i)
		return s, d, roundID(phase, i, round)
	})
	if err != nil {
		return nil, err
	}
	rec := b.sink.record(string(phase), n, 200)
	rec.delay = b.o.sinkDelay
	logf("phase %c: published at %.0f events/s; starting the router", phase, float64(n)/pub.Seconds())
	r, err := b.startRouter(ctx, string(phase), destName, mkDest(b.sink.url(string(phase))))
	if err != nil {
		return nil, err
	}
	c, isChild := r.(*child)
	before := countsOf(r) // before the clock starts: the scrape's CPU is not the drain's
	load := startLoad(childCPU(r))
	t0, cpu0 := time.Now(), r.cpu()
	var perf *perfRecord
	if isChild && b.o.perf && round == 0 {
		// perf takes a moment to attach: the first few hundred ms of the
		// phase are not in the profile (they are in the figures).
		if perf, err = startPerf(c.cmd.Process.Pid, filepath.Join(b.dir, fmt.Sprintf("perf-%c.data", phase))); err != nil {
			r.stop()
			return nil, err
		}
	}
	ok := rec.waitIdle(30 * time.Second)
	others, procCPU := load.others(), load.ours()
	t1, cpu1 := time.Unix(0, rec.last.Load()), r.cpu()
	counted := before.to(countsOf(r))
	if perf != nil {
		b.rep.profiles = append(b.rep.profiles, perf.stop(fmt.Sprintf("phase %c", phase)))
	}
	peak := r.stop()
	if !ok {
		return nil, fmt.Errorf("the sink got %d of %d events (stalled for 30s)", rec.distinct.Load(), n)
	}
	res := &phaseResult{
		phase: phase, events: n, wall: t1.Sub(t0), cpu: cpu1 - cpu0, peakRSS: peak,
		requests: rec.requests.Load(), dups: rec.dups.Load(), publishEPS: float64(n) / pub.Seconds(), runner: r.label(), others: others, procCPU: procCPU,
		counted: counted,
	}
	res.eps = float64(n) / res.wall.Seconds()
	logf("phase %c: %d events in %s: %.0f events/s, %d requests, router CPU %s, other processes %.2f cores", phase, n, res.wall.Round(time.Millisecond), res.eps, res.requests, res.cpu, others)
	return res, nil
}

// phaseA runs -rounds rounds of the batching drain, each followed at once
// by the JetStream ceilings, and keeps the median round: on a shared
// virtual machine one drain and one ceiling, seconds apart, can each be
// 15% off (docs/performance.md); the ratio of a round is measured under
// one condition, and the median of several is the figure least moved by
// the luck of one.
func (b *bench) phaseA(ctx context.Context) error {
	var rounds []roundA
	for k := range max(1, b.o.rounds) {
		res, err := b.drain(ctx, 'A', b.o.n, "batching", func(url string) string {
			return workload.BatchingDestination("pa", url, b.o.batchItems, b.o.batchInFlight)
		}, k)
		if err != nil {
			return err
		}
		rd := roundA{res: res}
		// The JetStream ceiling: the same N events, consumed and acked with
		// no work, right after publishing them (as the router read phase
		// A's).
		for i, style := range []ceilingStyle{styleFetch, styleConsume, styleMessages} {
			c, err := b.jsCeiling(ctx, byte('J'+i), style, k)
			if err != nil {
				return err
			}
			rd.js = append(rd.js, c)
		}
		rounds = append(rounds, rd)
		logf("phase A, round %d of %d: %.2f × the JetStream ceiling", k+1, max(1, b.o.rounds), rd.ratio())
	}
	b.rep.aRatios = ratios(rounds, roundA.ratio)
	m := median(rounds, roundA.ratio)
	b.rep.a, b.rep.js = m.res, m.js
	return nil
}

// jsCeiling runs one JetStream ceiling (see jetStreamCeiling) on the
// phase's N events; phase is the letter its events' ids carry.
func (b *bench) jsCeiling(ctx context.Context, phase byte, style ceilingStyle, round int) (ceiling, error) {
	if err := b.nats.resetStream(ctx); err != nil {
		return ceiling{}, err
	}
	logf("JetStream ceiling (%s): publishing and consuming %d events", style, b.o.n)
	eps, el, others, perOp, err := jetStreamCeiling(ctx, b.nats, b.o.seed, b.o.n, phase, "j"+strings.ToLower(string(phase)), style, round)
	if err != nil {
		return ceiling{}, fmt.Errorf("JetStream ceiling %s: %w", style, err)
	}
	logf("JetStream ceiling (%s): %.0f events/s (%s; %.1f µs of CPU (bench and router) per event; other processes %.2f cores)", style, eps, el.Round(time.Millisecond), us(perOp), others)
	return ceiling{name: string(style), eps: eps, others: others, perOp: perOp}, nil
}

// roundA is one round of phase A: the drain and the ceilings after it.
type roundA struct {
	res *phaseResult
	js  []ceiling
}

func (r roundA) ratio() float64 { return r.res.eps / bestOf(r.js).eps }

// roundB is one round of phase B: the drain, the in-process mapping and
// decoding of its events, the raw HTTP ceiling after it, and the
// JetStream consume ceiling, for the account of the drain's CPU.
type roundB struct {
	res               *phaseResult
	http, js          ceiling
	decodeNs, routeNs float64 // at router.GCPercent
	// decodeOwnGC and routeOwnGC are the same costs at the bench's own
	// GOGC, measured just before.
	decodeOwnGC, routeOwnGC float64
}

func (r roundB) ratio() float64 { return r.res.eps / r.http.eps }

// ratios lists each round's ratio, in the order they ran.
func ratios[R any](rounds []R, ratio func(R) float64) []float64 {
	out := make([]float64, len(rounds))
	for i, r := range rounds {
		out[i] = ratio(r)
	}
	return out
}

// median is the round of median ratio (the lower middle of an even count).
func median[R any](rounds []R, ratio func(R) float64) R {
	sorted := slices.Clone(rounds)
	slices.SortStableFunc(sorted, func(a, b R) int { return cmp.Compare(ratio(a), ratio(b)) })
	return sorted[(len(sorted)-1)/2]
}

// medianOf is the median of xs (the lower middle of an even count).
func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// phaseB runs -rounds rounds of the non-batching drain, each followed at
// once by mapping its events in process and the raw HTTP ceiling, and
// keeps the median round (as phaseA). The mapping and decoding costs are
// the medians of the rounds' means.
func (b *bench) phaseB(ctx context.Context) error {
	var rounds []roundB
	var dec, route, decOwn, routeOwn []float64
	for k := range max(1, b.o.rounds) {
		res, err := b.drain(ctx, 'B', b.o.n, "mapped", func(url string) string {
			return workload.MappedDestination("pb", url, b.o.concurrency, b.o.inFlight)
		}, k)
		if err != nil {
			return err
		}
		rd := roundB{res: res}
		// The raw HTTP ceiling: B's exact bodies, mapped here as the lane
		// maps them, POSTed to the same sink at the same concurrency.
		logf("mapping %d events in process (decode + Plan.Route)", b.o.n)
		bodies, atRouter, atOwn, err := mapInProcess(filepath.Join(b.dir, "config-B"), b.o.seed, b.o.n, "pb")
		if err != nil {
			return err
		}
		rd.decodeNs, rd.routeNs = atRouter.decodeNs, atRouter.routeNs
		rd.decodeOwnGC, rd.routeOwnGC = atOwn.decodeNs, atOwn.routeNs
		dec, route = append(dec, rd.decodeNs), append(route, rd.routeNs)
		decOwn, routeOwn = append(decOwn, rd.decodeOwnGC), append(routeOwn, rd.routeOwnGC)
		logf("mapping in process: decoding %.1f µs, routing %.1f µs per event at the router's GOGC %d (%.1f and %.1f at GOGC %d)",
			rd.decodeNs/1000, rd.routeNs/1000, router.GCPercent, rd.decodeOwnGC/1000, rd.routeOwnGC/1000, currentGCPercent())
		rec := b.sink.record("R", b.o.n, 200)
		logf("raw HTTP ceiling: %d POSTs at concurrency %d", b.o.n, b.o.concurrency)
		load := startLoad(nil)
		eps, el, err := rawHTTPCeiling(b.sink.url("R"), bodies, b.o.concurrency)
		others, procCPU := load.others(), load.ours()
		if err != nil {
			return fmt.Errorf("raw HTTP ceiling: %w", err)
		}
		if got := rec.distinct.Load(); got != int64(b.o.n) {
			return fmt.Errorf("raw HTTP ceiling: the sink recorded %d of %d", got, b.o.n)
		}
		perOp := procCPU / time.Duration(b.o.n)
		logf("raw HTTP ceiling: %.0f requests/s (%s; %.1f µs of CPU (bench and router) per request; other processes %.2f cores)", eps, el.Round(time.Millisecond), us(perOp), others)
		rd.http = ceiling{name: fmt.Sprintf("POST, concurrency %d", b.o.concurrency), eps: eps, others: others, perOp: perOp}
		// What consuming and acking B's events costs the machine with no
		// work, the part of the drain beyond the exchange that explicit
		// acks (DESIGN) make every event pay.
		if rd.js, err = b.jsCeiling(ctx, 'Q', styleConsume, k); err != nil {
			return err
		}
		rounds = append(rounds, rd)
		logf("phase B, round %d of %d: %.2f × the raw HTTP ceiling", k+1, max(1, b.o.rounds), rd.ratio())
	}
	b.rep.bRatios = ratios(rounds, roundB.ratio)
	m := median(rounds, roundB.ratio)
	b.rep.b, b.rep.http, b.rep.bJS = m.res, m.http, m.js
	b.rep.bDecodeNs, b.rep.bRouteNs = m.decodeNs, m.routeNs
	b.rep.decodeNs, b.rep.routeNs = medianOf(dec), medianOf(route)
	b.rep.decodeOwnGC, b.rep.routeOwnGC, b.rep.ownGC = medianOf(decOwn), medianOf(routeOwn), currentGCPercent()
	b.rep.mapRounds = len(rounds)
	return nil
}

// phaseW drains a forwarding webhook without batching, at its defaults
// (one request per event, adaptive concurrency up to max_in_flight): the
// router's RSS while it drains, against the target of issue 16.
func (b *bench) phaseW(ctx context.Context) error {
	res, err := b.drain(ctx, 'W', b.o.forwardN, "forwarding", func(url string) string {
		return workload.ForwardingDestination("pw", url)
	}, 0)
	if err != nil {
		return err
	}
	b.rep.w = res
	return nil
}

// phaseC publishes at a steady rate to a running router and measures each
// event's publish→delivered time at the sink.
func (b *bench) phaseC(ctx context.Context) error {
	if err := b.nats.resetStream(ctx); err != nil {
		return err
	}
	total := int(float64(b.o.rate) * b.o.steady.Seconds())
	rec := b.sink.record("C", total, 200)
	r, err := b.startRouter(ctx, "C", "steady", workload.MappedDestination("pc", b.sink.url("C"), b.o.concurrency, b.o.inFlight))
	if err != nil {
		return err
	}
	logf("phase C: %d events/s for %s (%d events)", b.o.rate, b.o.steady, total)
	ev := newEvents(b.o.seed, 'C', "pc")
	pubAt := make([]int64, total)
	interval := time.Second / time.Duration(b.o.rate)
	start := time.Now()
	cpu0 := r.cpu()
	load := startLoad(childCPU(r))
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		subj, data := ev.next(i)
		m := newMsg(subj, data, workload.ID('C', i))
		pubAt[i] = time.Now().UnixNano()
		if _, err := b.nats.js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			r.stop()
			return err
		}
		if ctx.Err() != nil {
			r.stop()
			return ctx.Err()
		}
	}
	sent := time.Since(start)
	others := load.others()
	ok := rec.wait(30 * time.Second)
	cpu1 := r.cpu()
	peak := r.stop()
	if !ok {
		return fmt.Errorf("the sink got %d of %d events", rec.distinct.Load(), total)
	}
	if b.o.trace != "" {
		var sb strings.Builder
		sb.WriteString("seq,published_ms,latency_ms\n")
		for i := range total {
			fmt.Fprintf(&sb, "%d,%.3f,%.3f\n", i, float64(pubAt[i]-pubAt[0])/1e6, float64(rec.first[i].Load()-pubAt[i])/1e6)
		}
		if err := os.WriteFile(b.o.trace, []byte(sb.String()), 0o644); err != nil {
			return err
		}
	}
	skip := min(int(float64(b.o.rate)*b.o.warmup.Seconds()), total/2)
	lat := make([]time.Duration, 0, total-skip)
	for i := skip; i < total; i++ {
		lat = append(lat, time.Duration(rec.first[i].Load()-pubAt[i]))
	}
	slices.Sort(lat)
	res := &phaseResult{
		phase: 'C', events: total, wall: sent, eps: float64(total) / sent.Seconds(), cpu: cpu1 - cpu0, peakRSS: peak,
		requests: rec.requests.Load(), dups: rec.dups.Load(), runner: r.label(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], max: lat[len(lat)-1], latN: len(lat), others: others,
	}
	logf("phase C: offered %.0f events/s; latency p50 %s p99 %s max %s; other processes %.2f cores", res.eps, res.p50, res.p99, res.max, others)
	b.rep.c = res
	return nil
}
