package plan_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// The per-event CPU of routing, without NATS or HTTP: run with
//
//	go test -run '^$' -bench . -benchmem ./router
//
// BenchmarkRouteTenFieldAction is the "mapping cost, 10-field preset"
// figure of docs/performance.md (target: at most 5 µs per event).

// BenchmarkDecode parses and validates a typical Order Completed event
// (three products, prices and quantities partly sent as strings).
func BenchmarkDecode(b *testing.B) {
	raw := workload.TypicalOrder()
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := mappings.Decode(raw, now, mappings.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteTenFieldAction routes a decoded Order Completed event
// through an http destination whose one action maps ten fields with
// Segment helpers (the bench's non-batching destination): trigger, ten
// expressions, a products map, and the JSON body.
func BenchmarkRouteTenFieldAction(b *testing.B) {
	p := planFromText(b, workload.MappedDestination("web", "http://127.0.0.1:9/sink", 16, 256))
	raw := workload.TypicalOrder()
	ev, err := mappings.Decode(raw, time.Now(), mappings.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	env := &mappings.Env{}
	rt := p.Route(ev, "web", raw, env, plan.RouteOptions{})
	if len(rt.Requests) != 1 || len(rt.Failures) != 0 {
		b.Fatalf("routing: %+v", rt)
	}
	var body map[string]any
	if err := json.Unmarshal(rt.Requests[0].Req.Body, &body); err != nil || len(body) != 10 {
		b.Fatalf("body has %d fields, want 10 (%v): %s", len(body), err, rt.Requests[0].Req.Body)
	}
	// Each round routes an event no destination routed before: what an
	// event derives once (its expression environment, products()) is
	// memoized on it, and a lane routes each event once.
	events := newFreshEvents(b, raw)
	b.ReportAllocs()
	for b.Loop() {
		p.Route(events.next(), "web", raw, env, plan.RouteOptions{})
	}
}

// freshEvents hands out decoded events that were never routed, decoding
// them in batches with the timer stopped: the i-th event handed out is
// raws[i % len(raws)], decoded anew for each batch.
type freshEvents struct {
	b    *testing.B
	raws [][]byte
	evs  []*mappings.Event
	used int
}

// newFreshEvents hands out the one event raw, again and again.
func newFreshEvents(b *testing.B, raw []byte) *freshEvents {
	return newFreshSample(b, [][]byte{raw})
}

// newFreshSample hands out the events of raws in turn.
func newFreshSample(b *testing.B, raws [][]byte) *freshEvents {
	n := 256
	if len(raws) > n {
		n = len(raws)
	}
	return &freshEvents{b: b, raws: raws, evs: make([]*mappings.Event, n), used: n}
}

// next returns the next event; raw is its bytes as they came.
func (f *freshEvents) next() *mappings.Event {
	ev, _ := f.nextRaw()
	return ev
}

// nextRaw is next with the event's bytes.
func (f *freshEvents) nextRaw() (*mappings.Event, []byte) {
	if f.used == len(f.evs) {
		f.b.StopTimer()
		for i := range f.evs {
			ev, err := mappings.Decode(f.raws[i%len(f.raws)], time.Now(), mappings.Limits{})
			if err != nil {
				f.b.Fatal(err)
			}
			f.evs[i] = ev
		}
		f.used = 0
		f.b.StartTimer()
	}
	f.used++
	return f.evs[f.used-1], f.raws[(f.used-1)%len(f.raws)]
}

// BenchmarkDecodeAndRouteTenFieldAction is what a lane spends per event
// before the HTTP send: decode, then route.
func BenchmarkDecodeAndRouteTenFieldAction(b *testing.B) {
	p := planFromText(b, workload.MappedDestination("web", "http://127.0.0.1:9/sink", 16, 256))
	raw := workload.TypicalOrder()
	now := time.Now()
	env := &mappings.Env{}
	b.ReportAllocs()
	for b.Loop() {
		ev, err := mappings.Decode(raw, now, mappings.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		p.Route(ev, "web", raw, env, plan.RouteOptions{})
	}
}

// BenchmarkDecodeAndRouteTenFieldMix is BenchmarkDecodeAndRouteTenFieldAction
// over bench phase B's own mix (identify, Order Completed, page: 300
// events of workload.New(1)), one event per op: the in-process decoding
// and mapping that phase B's report measures, as one count. Each event is
// decoded anew, so nothing memoized on it carries over.
func BenchmarkDecodeAndRouteTenFieldMix(b *testing.B) {
	p := planFromText(b, workload.MappedDestination("web", "http://127.0.0.1:9/sink", 16, 256))
	g := workload.New(1)
	raws := make([][]byte, 300)
	for i := range raws {
		_, raws[i] = g.Next('B', i)
	}
	now := time.Now()
	env := &mappings.Env{}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		raw := raws[i%len(raws)]
		ev, err := mappings.Decode(raw, now, mappings.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if rt := p.Route(ev, "web", raw, env, plan.RouteOptions{}); len(rt.Requests) != 1 {
			b.Fatalf("event %d: %d requests, want 1 (%+v)", i%len(raws), len(rt.Requests), rt)
		}
		i++
	}
}

// BenchmarkRoutePresets routes, for every catalog tool, the first of its
// golden cases (in name order) that renders at least one request, through
// the tool's presets as that case's destination.yaml enables them.
func BenchmarkRoutePresets(b *testing.B) {
	tools, _ := filepath.Glob(filepath.Join("..", "..", "destinations", "catalog", "*", "testdata"))
	sort.Strings(tools)
	if len(tools) == 0 {
		b.Fatal("no catalog testdata found")
	}
	for _, td := range tools {
		tool := filepath.Base(filepath.Dir(td))
		cases, _ := filepath.Glob(filepath.Join(td, "*", "event.json"))
		sort.Strings(cases)
		var (
			p    *plan.Plan
			ev   *mappings.Event
			raw  []byte
			name string
		)
		for _, c := range cases {
			dir := filepath.Dir(c)
			data, err := os.ReadFile(c)
			if err != nil {
				b.Fatal(err)
			}
			e, err := mappings.Decode(data, time.Now(), mappings.Limits{})
			if err != nil {
				continue // a case about an invalid event
			}
			cp := planFromFile(b, filepath.Join(dir, "destination.yaml"))
			if rt := cp.Route(e, "web", data, &mappings.Env{}, plan.RouteOptions{}); len(rt.Requests) > 0 {
				p, ev, raw, name = cp, e, data, filepath.Base(dir)
				break
			}
		}
		if p == nil {
			b.Logf("%s: no golden case renders a request; skipped", tool)
			continue
		}
		_ = ev
		b.Run(tool+"/"+name, func(b *testing.B) {
			env := &mappings.Env{}
			events := newFreshEvents(b, raw)
			b.ReportAllocs()
			for b.Loop() {
				p.Route(events.next(), "web", raw, env, plan.RouteOptions{})
			}
		})
	}
}

// BenchmarkForwardBatched is what a batching forwarding webhook's lane
// (phase A) spends per event before the batcher: decode what the plan
// reads, then route.
func BenchmarkForwardBatched(b *testing.B) {
	p := planFromText(b, workload.BatchingDestination("web", "http://127.0.0.1:9/sink", 500, 5000))
	raw := workload.TypicalOrder()
	now := time.Now()
	env := &mappings.Env{}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		ev, err := mappings.DecodeProjected(raw, now, p.Limits(), p.Projection())
		if err != nil {
			b.Fatal(err)
		}
		if rt := p.Route(ev, "web", raw, env, plan.RouteOptions{}); len(rt.Requests) != 1 {
			b.Fatalf("routing: %+v", rt)
		}
	}
}

// BenchmarkDecodeMix decodes the bench's mix (identify, Order Completed,
// page: 300 events of workload.New(1)), one event per op: the mean
// decoding cost of what a lane reads, beside BenchmarkDecode's one
// Order Completed.
func BenchmarkDecodeMix(b *testing.B) {
	g := workload.New(1)
	raws := make([][]byte, 300)
	for i := range raws {
		_, raws[i] = g.Next('M', i)
	}
	evs := make([]*mappings.Event, len(raws))
	i := len(raws)
	for b.Loop() {
		if i == len(raws) {
			for j, raw := range raws {
				evs[j], _ = mappings.Decode(raw, time.Now(), mappings.Limits{})
			}
			i = 0
		}
		i++
	}
}

// BenchmarkRouteMixDecodedOnce weighs decoding each event once for every
// destination reading it against once per destination (each lane today):
// per event of the mix, the eleven catalog tools of phase E route it
// after decoding it each (own), or all route one decoded event and share
// what it derives, such as products() (shared).
func BenchmarkRouteMixDecodedOnce(b *testing.B) {
	var ps []*plan.Plan
	for _, tool := range workload.CatalogTools("K") {
		ps = append(ps, planFromText(b, "type: "+tool.Name+"\nsettings:\n  endpoint: http://127.0.0.1:9/sink\n"+tool.Settings))
	}
	g := workload.New(1)
	raws := make([][]byte, 300)
	for i := range raws {
		_, raws[i] = g.Next('M', i)
	}
	env := &mappings.Env{}
	decode := func(raw []byte) *mappings.Event {
		ev, err := mappings.Decode(raw, time.Now(), mappings.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		return ev
	}
	b.Run("own", func(b *testing.B) {
		i := 0
		for b.Loop() {
			raw := raws[i%len(raws)]
			for _, p := range ps {
				p.Route(decode(raw), "web", raw, env, plan.RouteOptions{})
			}
			i++
		}
	})
	b.Run("shared", func(b *testing.B) {
		i := 0
		for b.Loop() {
			raw := raws[i%len(raws)]
			ev := decode(raw)
			for _, p := range ps {
				p.Route(ev, "web", raw, env, plan.RouteOptions{})
			}
			i++
		}
	})
}

// catalogMixSample is the events BenchmarkRouteMix routes: the
// bench workload's mix (40% identify with traits, 30% Order Completed with
// 3-5 products, 30% page), 256 events from a fixed seed.
func catalogMixSample() [][]byte {
	g := workload.New(42)
	raws := make([][]byte, 256)
	for i := range raws {
		_, raws[i] = g.Next('E', i)
	}
	return raws
}

// BenchmarkRouteMix routes the workload's mix through each catalog
// tool of bench phase E, with its default presets and the settings
// workload.CatalogTools gives it, the destination file written as the
// bench writes it (bench/fanout.go's catalogFanout): one op is one event,
// never routed before by the plan, routed whatever its actions make of it.
//
// The events are decoded in batches with the timer stopped, which an
// instruction counter (callgrind, scripts/instructions.sh) counts all the same:
// the decode sub-benchmark runs the same loop without routing, and is
// what to subtract from each tool's count.
func BenchmarkRouteMix(b *testing.B) {
	const secret = "BENCH_SECRET"
	b.Setenv(secret, "bench-secret-not-a-real-key")
	raws := catalogMixSample()
	b.Run("decode", func(b *testing.B) {
		events := newFreshSample(b, raws)
		b.ReportAllocs()
		for b.Loop() {
			events.next()
		}
	})
	for _, tool := range workload.CatalogTools(secret) {
		p := planFromText(b, fmt.Sprintf("type: %s\nsources: [pe]\nstart: all\nsettings:\n  endpoint: %s\n%s", tool.Name, "http://127.0.0.1:9/sink", tool.Settings))
		// The benchmark must measure requests being rendered: every tool
		// renders at least one for the sample. Some fail some events, as
		// in the bench (Iterable needs an email or a userId).
		requests := 0
		for _, raw := range raws {
			ev, err := mappings.Decode(raw, time.Now(), mappings.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			requests += len(p.Route(ev, "pe", raw, &mappings.Env{}, plan.RouteOptions{}).Requests)
		}
		if requests == 0 {
			b.Fatalf("%s renders no request for the sample", tool.Name)
		}
		b.Run(tool.Name, func(b *testing.B) {
			env := &mappings.Env{}
			events := newFreshSample(b, raws)
			b.ReportAllocs()
			for b.Loop() {
				ev, raw := events.nextRaw()
				p.Route(ev, "pe", raw, env, plan.RouteOptions{})
			}
		})
	}
}
