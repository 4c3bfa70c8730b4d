package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// options are the bench's flags (go run ./bench -h).
type options struct {
	n             int
	seed          uint64
	phases        string
	rate          int
	steady        time.Duration
	warmup        time.Duration
	rssEvents     int
	rssWindow     time.Duration
	skipRSS       bool
	concurrency   int
	inFlight      int
	batchItems    int
	batchInFlight int
	inprocess     bool
	cpuprofile    string
	out           string
	keep          bool
	trace         string
	perf          bool
	sinkDelay     time.Duration
	fanoutN       int
	rateN         int
	idle          time.Duration
	slowN         int
	slowDelay     time.Duration
	peersN        int
	forwardN      int
	floodGarbage  int
	floodValid    int
	rounds        int
}

// parseOptions reads the flags and refuses the combinations that make no
// sense, naming the flag.
func parseOptions() options {
	var o options
	flag.IntVar(&o.n, "n", 200_000, "events per drain phase (A, B) and per ceiling")
	flag.IntVar(&o.rounds, "rounds", 3, "phases A and B: rounds of the drain and its ceiling, measured one right after the other; the report gives the median round and every round's ratio. Phase E: runs of its 1 and 4 destinations (the median is kept)")
	flag.Uint64Var(&o.seed, "seed", 1, "workload seed (the same seed gives the same events)")
	flag.StringVar(&o.phases, "phases", "ABWCD", "phases to run: A batching (and the JetStream ceilings), B non-batching (and the raw HTTP ceiling), W a forwarding webhook, one request per event, draining -forward-n events (its RSS), C steady-rate latency, D RSS behind an open breaker; the longer ones: E 1, 4 and 13 destinations reading one source, R a rate-bound lane alone (Customer.io's v1 presets at its 100 requests/s), F a slow tool, P the peer table (Bloblang, Segment's actions-core in Node), M a malformed flood on the embedded shape (serve with its own nats-server: peak RSS, drain time, disk use)")
	flag.IntVar(&o.floodGarbage, "flood-garbage", 100_000, "phase M: unparseable events of about 7 KB (invalid for both destinations)")
	flag.IntVar(&o.floodValid, "flood-valid", 10_000, "phase M: valid events of about 1 KB, delivered to both destinations")
	flag.IntVar(&o.forwardN, "forward-n", 64_000, "phase W: events the forwarding webhook drains")
	flag.IntVar(&o.fanoutN, "fanout-n", 5_000, "phase E: events per run (each run routes them to 1, 4, then 13 destinations)")
	flag.IntVar(&o.rateN, "rate-n", 1_000, "phase R: events the rate-bound lane (Customer.io, 100 requests/s) drains")
	flag.DurationVar(&o.idle, "idle", 0, "phases E and R: once every destination settled, measure the router's CPU while idle this long")
	flag.IntVar(&o.slowN, "slow-n", 20_000, "phase F: events drained to the slow tool")
	flag.DurationVar(&o.slowDelay, "slow-delay", 100*time.Millisecond, "phase F: how long the slow tool takes to answer")
	flag.IntVar(&o.peersN, "peers-n", 20_000, "phase P: events each mapping engine maps")
	flag.IntVar(&o.rate, "rate", 2000, "phase C: events per second")
	flag.DurationVar(&o.steady, "steady", 20*time.Second, "phase C: how long to publish at -rate")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "phase C: leading part left out of the latency percentiles")
	flag.IntVar(&o.rssEvents, "rss-events", 1_000_000, "phase D: events waiting behind the open breaker")
	flag.DurationVar(&o.rssWindow, "rss-window", 15*time.Second, "phase D: how long RSS is sampled after publishing")
	flag.BoolVar(&o.skipRSS, "skip-rss", false, "skip phase D")
	flag.IntVar(&o.concurrency, "concurrency", 32, "non-batching destination: delivery.rate.concurrency (and the raw HTTP ceiling's)")
	flag.IntVar(&o.inFlight, "in-flight", 256, "non-batching destination: delivery.max_in_flight")
	flag.IntVar(&o.batchItems, "batch-items", 500, "batching destination: delivery.batch.max_items")
	flag.IntVar(&o.batchInFlight, "batch-in-flight", 5000, "batching destination: delivery.max_in_flight (keep it several times -batch-items)")
	flag.BoolVar(&o.inprocess, "inprocess", false, "run the router in this process (router.New) instead of the binary: for -cpuprofile")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "with -inprocess: write a CPU profile of phases A-C here and print its top")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&o.trace, "latency-trace", "", "phase C: write each event's publish offset and latency (ms) as CSV here")
	flag.BoolVar(&o.perf, "perf", false, "record the child's CPU with perf (perf record -e cpu-clock -g) during phases A and B (and R), and print the top of each profile (needs linux-perf)")
	flag.DurationVar(&o.sinkDelay, "sink-delay", 0, "phases A and B: the sink answers after this long (a slow tool: the lane fills max_in_flight; for memory sizing)")
	flag.Func("router-env", "KEY=VALUE added to the router child's environment only (repeatable), e.g. -router-env GOGC=1000: the ceilings, nats-server and sink keep the bench's", addRouterEnv)
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, child logs, NATS store)")
	flag.Parse()
	if len(routerEnv) > 0 && o.inprocess {
		fatalf("-router-env sets the router child's environment: drop -inprocess")
	}
	if o.cpuprofile != "" && !o.inprocess {
		fatalf("-cpuprofile profiles the router in this process: add -inprocess")
	}
	if o.perf && o.inprocess {
		fatalf("-perf records the child process: drop -inprocess")
	}
	if o.floodGarbage < 0 || o.floodValid < 0 || o.floodGarbage+o.floodValid == 0 {
		fatalf("-flood-garbage and -flood-valid: counts of at least 0, not both 0")
	}
	if o.skipRSS {
		o.phases = strings.ReplaceAll(o.phases, "D", "")
	}
	return o
}

// routerEnv is what -router-env adds to the router child's environment
// (KEY=VALUE each), and to nothing else: the bench process, its
// nats-server, sink and ceilings keep their own.
var routerEnv []string

// addRouterEnv is -router-env's flag function.
func addRouterEnv(kv string) error {
	if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	routerEnv = append(routerEnv, kv)
	return nil
}
