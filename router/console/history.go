package console

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/switchyard/switchyard/router"
)

// The console's windows (5 minutes, 1 hour, 24 hours) are computed from
// the router's own counters, sampled into fixed rings kept in memory: one
// ring per resolution and destination, each of ringPoints points, so the
// memory is bounded whatever the uptime (about 100 KiB per destination,
// TestHistoryMemoryIsBoundedPerDestination).
// A window's figures are the live counters minus the oldest point the
// window holds; a sparkline plots the points one step apart.

// Window is a selectable time window.
type Window struct {
	Name string        // 5m, 1h, 24h
	Span time.Duration // how far back it looks
}

// Windows are the windows the console offers, finest first.
var Windows = []Window{{"5m", 5 * time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour}}

// resolutions of the rings: each ring holds ringPoints points step apart,
// spanning its window.
var resolutions = []time.Duration{5 * time.Second, time.Minute, 24 * time.Minute}

// ringPoints: 60 steps, a window's span, both ends included.
const ringPoints = 61

// windowByName returns the named window, the 5 minute one by default.
func windowByName(name string) Window {
	for _, w := range Windows {
		if w.Name == name {
			return w
		}
	}
	return Windows[0]
}

// point is one sample of a destination's cumulative counters.
type point struct {
	at                                            time.Time
	delivered, filtered, unmatched, invalid, dead float64
	retried                                       float64
	reqOK, reqFailed                              float64
	latency                                       router.Histogram
	dlq                                           int
	// reasons are the final outcomes by "outcome/reason" (a small fixed
	// set of labels).
	reasons map[string]float64
}

func pointOf(at time.Time, s router.DestinationStatus, dlq int) point {
	c := s.Counters
	p := point{
		at: at, delivered: c.Outcomes["delivered"], filtered: c.Outcomes["filtered"],
		unmatched: c.Outcomes["unmatched"], invalid: c.Outcomes["invalid"],
		dead: c.Outcomes["dead_lettered"], retried: c.Outcomes["retried"],
		reqOK: c.Requests["ok"], dlq: dlq,
	}
	p.reasons = map[string]float64{}
	for o, rs := range c.Reasons {
		for r, n := range rs {
			p.reasons[o+"/"+r] = n
		}
	}
	for class, n := range c.Requests {
		if class != "ok" {
			p.reqFailed += n
		}
	}
	p.latency = router.Histogram{Bounds: c.Latency.Bounds, Counts: append([]float64(nil), c.Latency.Counts...), Count: c.Latency.Count, Sum: c.Latency.Sum}
	return p
}

func (p point) final() float64 { return p.delivered + p.filtered + p.unmatched + p.invalid + p.dead }

// ring is a fixed circular buffer of points, oldest first when read.
type ring struct {
	step time.Duration
	pts  [ringPoints]point
	n    int // points held
	next int // where the next one goes
}

func (r *ring) last() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.pts[(r.next+ringPoints-1)%ringPoints], true
}

// add keeps p when a step has passed since the last point kept, give or
// take half a sampling period (the sampler's ticks come a little early or
// late).
func (r *ring) add(p point) {
	if last, ok := r.last(); ok && p.at.Sub(last.at) < r.step-sampleEvery/2 {
		return
	}
	r.pts[r.next] = p
	r.next = (r.next + 1) % ringPoints
	if r.n < ringPoints {
		r.n++
	}
}

// points returns the points at or after from, oldest first.
func (r *ring) points(from time.Time) []point {
	out := make([]point, 0, r.n)
	for i := range r.n {
		p := r.pts[(r.next-r.n+i+ringPoints)%ringPoints]
		if !p.at.Before(from) {
			out = append(out, p)
		}
	}
	return out
}

func (r *ring) oldest() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.pts[(r.next-r.n+ringPoints)%ringPoints], true
}

// history holds every destination's rings.
//
// Lock order: mu is a leaf. The sampler reads the router (its own locks)
// and JetStream with mu not held, then takes it to add the points.
type history struct {
	mu    sync.Mutex
	rings map[string]*[3]ring
	// origin is when the console was made, with the router: a destination
	// first seen after it counted from zero then, unless it ran before (a
	// destination removed and added again keeps its counters).
	origin    time.Time
	forgotten map[string]bool
}

// maxForgotten bounds the names of removed destinations remembered.
const maxForgotten = 1000

func newHistory(origin time.Time) *history {
	return &history{rings: map[string]*[3]ring{}, origin: origin, forgotten: map[string]bool{}}
}

// zero is a point of no counts at the origin.
func (h *history) zero(bounds []float64) point {
	return point{at: h.origin, reasons: map[string]float64{}, latency: router.Histogram{Bounds: bounds}}
}

// record adds one sample of every running destination; destinations no
// longer running are forgotten.
func (h *history) record(at time.Time, status []router.DestinationStatus, dlq map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range status {
		seen[s.Name] = true
		rs := h.rings[s.Name]
		if rs == nil {
			rs = &[3]ring{}
			for i, step := range resolutions {
				rs[i].step = step
			}
			h.rings[s.Name] = rs
			if !h.forgotten[s.Name] && !h.origin.IsZero() && h.origin.Before(at) {
				// What it counted before its first sample counts in the
				// windows too.
				for i := range rs {
					rs[i].add(h.zero(s.Counters.Latency.Bounds))
				}
			}
		}
		p := pointOf(at, s, dlq[s.Name])
		for i := range rs {
			rs[i].add(p)
		}
	}
	for name := range h.rings {
		if !seen[name] {
			delete(h.rings, name)
			if len(h.forgotten) >= maxForgotten {
				clear(h.forgotten)
			}
			h.forgotten[name] = true
		}
	}
}

// series returns, for one destination and window, the points to compute
// from: those of the finest ring that reaches back to the window's start
// (or to the first sample, for a router up less long than the window),
// then the live point. The first point is the window's base.
func (h *history) series(name string, w Window, live point) []point {
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.rings[name]
	if rs == nil {
		// Not sampled yet: it counted from zero since the console began,
		// unless it ran before.
		if !h.forgotten[name] && !h.origin.IsZero() && h.origin.Before(live.at) {
			return []point{h.zero(live.latency.Bounds), live}
		}
		return []point{live}
	}
	from := live.at.Add(-w.Span)
	var pick *ring
	for i := range rs {
		o, ok := rs[i].oldest()
		if !ok {
			continue
		}
		pick = &rs[i]
		// The finest ring that reaches back to the window's start (within a
		// step), or that holds every sample since the first: no coarser
		// ring knows more.
		if rs[i].n < ringPoints || !o.at.After(from.Add(rs[i].step)) {
			break
		}
	}
	if pick == nil {
		return []point{live}
	}
	pts := pick.points(from)
	if len(pts) == 0 {
		if o, ok := pick.last(); ok {
			pts = []point{o}
		}
	}
	return append(pts, live)
}

// stats are a destination's figures over a window.
type stats struct {
	Covered         time.Duration // how much of the window the history holds
	Final           float64       // events that reached a final outcome
	Delta           point         // the counters' increase over the window
	EventsPerSecond float64
	// SuccessRate is delivered / (delivered + dead-lettered), NaN when
	// neither happened (the alert rules' ratio).
	SuccessRate float64
	// RequestErrorRate is the share of HTTP attempts that failed, NaN when
	// none were made.
	RequestErrorRate float64
	// P95 is the 95th percentile request duration, NaN without requests.
	P95 time.Duration
	// Rates and ErrorRates are per step, for the sparklines.
	Rates, ErrorRates []float64
}

func computeStats(pts []point) stats {
	var st stats
	base, live := pts[0], pts[len(pts)-1]
	st.Covered = live.at.Sub(base.at)
	d := diff(live, base)
	st.Delta = d
	st.Final = d.final()
	// Less than a second of history says nothing of a rate.
	st.EventsPerSecond = st.Final / max(st.Covered.Seconds(), 1)
	st.SuccessRate = ratio(d.delivered, d.delivered+d.dead)
	st.RequestErrorRate = ratio(d.reqFailed, d.reqOK+d.reqFailed)
	st.P95 = quantile(0.95, d.latency)
	for i := 1; i < len(pts); i++ {
		step := diff(pts[i], pts[i-1])
		secs := pts[i].at.Sub(pts[i-1].at).Seconds()
		if secs <= 0 {
			continue
		}
		st.Rates = append(st.Rates, step.final()/secs)
		st.ErrorRates = append(st.ErrorRates, ratio(step.reqFailed, step.reqOK+step.reqFailed))
	}
	return st
}

// diff is a - b, counter by counter; a counter that went down (a
// destination removed and added again) counts from zero.
func diff(a, b point) point {
	sub := func(x, y float64) float64 {
		if x < y {
			return x
		}
		return x - y
	}
	d := point{
		at: a.at, delivered: sub(a.delivered, b.delivered), filtered: sub(a.filtered, b.filtered),
		unmatched: sub(a.unmatched, b.unmatched), invalid: sub(a.invalid, b.invalid), dead: sub(a.dead, b.dead),
		retried: sub(a.retried, b.retried), reqOK: sub(a.reqOK, b.reqOK), reqFailed: sub(a.reqFailed, b.reqFailed),
		dlq: a.dlq,
	}
	d.reasons = make(map[string]float64, len(a.reasons))
	for k, n := range a.reasons {
		d.reasons[k] = sub(n, b.reasons[k])
	}
	d.latency.Bounds = a.latency.Bounds
	d.latency.Count = sub(a.latency.Count, b.latency.Count)
	for i, n := range a.latency.Counts {
		prev := 0.0
		if i < len(b.latency.Counts) {
			prev = b.latency.Counts[i]
		}
		d.latency.Counts = append(d.latency.Counts, sub(n, prev))
	}
	return d
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// quantile estimates a quantile from a cumulative histogram the way
// Prometheus' histogram_quantile does: linear interpolation inside the
// bucket that holds it, the upper bound of the highest finite bucket when
// it falls in +Inf.
func quantile(q float64, h router.Histogram) time.Duration {
	if h.Count == 0 || len(h.Bounds) == 0 {
		return time.Duration(-1)
	}
	rank := q * h.Count
	i := sort.Search(len(h.Counts), func(i int) bool { return h.Counts[i] >= rank })
	if i == len(h.Counts) {
		return secs(h.Bounds[len(h.Bounds)-1])
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Bounds[i-1], h.Counts[i-1]
	}
	in := h.Counts[i] - below
	if in <= 0 {
		return secs(h.Bounds[i])
	}
	return secs(lower + (h.Bounds[i]-lower)*(rank-below)/in)
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
