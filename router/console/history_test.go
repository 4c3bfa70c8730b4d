package console

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
)

func status(name string, delivered, dead float64, latency router.Histogram) router.DestinationStatus {
	return router.DestinationStatus{Name: name, Counters: router.Counters{
		Outcomes: map[string]float64{"delivered": delivered, "dead_lettered": dead},
		Reasons:  map[string]map[string]float64{"delivered": {"ok": delivered}, "dead_lettered": {"http_4xx": dead}},
		Requests: map[string]float64{"ok": delivered, "permanent": dead},
		Latency:  latency,
	}}
}

func TestTheRingsStayBoundedWhateverTheUptime(t *testing.T) {
	h := newHistory(time.Time{})
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// Three days of samples every 5 s.
	for i := range 3 * 24 * 720 {
		h.record(start.Add(time.Duration(i)*5*time.Second), []router.DestinationStatus{status("a", float64(i), 0, router.Histogram{})}, nil)
	}
	rs := h.rings["a"]
	for i, r := range rs {
		if r.n != ringPoints {
			t.Errorf("ring %d (step %s) holds %d points, want %d", i, r.step, r.n, ringPoints)
		}
	}
	// A destination no longer running is forgotten.
	h.record(start.Add(73*time.Hour), []router.DestinationStatus{status("b", 1, 0, router.Histogram{})}, nil)
	if _, ok := h.rings["a"]; ok || len(h.rings) != 1 {
		t.Errorf("rings after a is gone: %v", h.rings)
	}
}

func TestWindowsUseTheFinestRingThatReachesBack(t *testing.T) {
	h := newHistory(time.Time{})
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(3 * time.Hour)
	// One event delivered a second, for three hours.
	for at := start; !at.After(end); at = at.Add(5 * time.Second) {
		h.record(at, []router.DestinationStatus{status("a", at.Sub(start).Seconds(), 0, router.Histogram{})}, nil)
	}
	live := pointOf(end, status("a", end.Sub(start).Seconds(), 0, router.Histogram{}), 0)
	for _, c := range []struct {
		window  Window
		covered time.Duration
		step    time.Duration
	}{
		{Windows[0], 5 * time.Minute, 5 * time.Second},
		{Windows[1], time.Hour, time.Minute},
		// Up 3 hours: the 24 h window covers them, at the coarsest step.
		{Windows[2], 3 * time.Hour, 24 * time.Minute},
	} {
		pts := h.series("a", c.window, live)
		st := computeStats(pts)
		if st.Covered != c.covered {
			t.Errorf("%s: covers %s, want %s", c.window.Name, st.Covered, c.covered)
		}
		if got := pts[1].at.Sub(pts[0].at); got != c.step {
			t.Errorf("%s: step %s, want %s", c.window.Name, got, c.step)
		}
		if math.Abs(st.EventsPerSecond-1) > 1e-9 || st.SuccessRate != 1 {
			t.Errorf("%s: %v events/s, success %v; want 1 and 1", c.window.Name, st.EventsPerSecond, st.SuccessRate)
		}
		for i, r := range st.Rates {
			if math.Abs(r-1) > 1e-9 {
				t.Errorf("%s: step %d rate %v, want 1", c.window.Name, i, r)
			}
		}
	}
	// A router up for 2 minutes: the 1 h window is those 2 minutes, at the
	// finest step.
	h = newHistory(time.Time{})
	for at := start; !at.After(start.Add(2 * time.Minute)); at = at.Add(5 * time.Second) {
		h.record(at, []router.DestinationStatus{status("a", 0, 0, router.Histogram{})}, nil)
	}
	pts := h.series("a", Windows[1], pointOf(start.Add(2*time.Minute), status("a", 0, 0, router.Histogram{}), 0))
	if st := computeStats(pts); st.Covered != 2*time.Minute || pts[1].at.Sub(pts[0].at) != 5*time.Second {
		t.Errorf("young router: covers %s at %s steps", st.Covered, pts[1].at.Sub(pts[0].at))
	}
	if st := computeStats(pts); !math.IsNaN(st.SuccessRate) || !math.IsNaN(st.RequestErrorRate) || st.P95 >= 0 {
		t.Errorf("nothing sent: success %v, request errors %v, p95 %v; want unknown", st.SuccessRate, st.RequestErrorRate, st.P95)
	}
}

func TestQuantileInterpolatesLikeHistogramQuantile(t *testing.T) {
	// 100 requests: 50 under 10 ms, 40 in (10 ms, 100 ms], 10 in (100 ms, 1 s].
	h := router.Histogram{Bounds: []float64{0.01, 0.1, 1}, Counts: []float64{50, 90, 100}, Count: 100}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 10 * time.Millisecond},
		{0.95, 550 * time.Millisecond}, // halfway through (0.1, 1]
		{0.7, 55 * time.Millisecond},
	} {
		if got := quantile(c.q, h); (got - c.want).Abs() > time.Microsecond {
			t.Errorf("q%.2f = %s, want %s", c.q, got, c.want)
		}
	}
	// Past the last finite bound (+Inf bucket): the last bound, as Prometheus does.
	if got := quantile(0.99, router.Histogram{Bounds: []float64{0.01}, Counts: []float64{1}, Count: 10}); got != 10*time.Millisecond {
		t.Errorf("q0.99 in +Inf = %s", got)
	}
}

func TestSparklinesAreInlineSVGWithoutStyle(t *testing.T) {
	svg := string(sparkline([]float64{0, 1, math.NaN(), 2, 4, math.NaN(), 3}, 0, "rate", `a "label" <b>`))
	for _, want := range []string{`<svg class="spark rate"`, `aria-label="a &#34;label&#34; &lt;b&gt;"`, "<polyline", "<circle", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("sparkline lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "style") || strings.Contains(svg, "<script") {
		t.Errorf("a sparkline with a style or a script breaks the CSP:\n%s", svg)
	}
	// Two runs of known values (0,1 and 2,4) and one lone value (3).
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2:\n%s", n, svg)
	}
	// The peak touches the top, zero the bottom.
	if !strings.Contains(svg, ",2.0") || !strings.Contains(svg, "0.0,26.0") {
		t.Errorf("not scaled from 0 to the peak:\n%s", svg)
	}
}
