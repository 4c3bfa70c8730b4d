package console

import (
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
)

// A day of samples of 100 destinations, each with a histogram and a
// handful of reasons: the history's heap stays bounded (docs/console.md
// gives the figure this measures).
func TestHistoryMemoryIsBoundedPerDestination(t *testing.T) {
	h := newHistory(time.Time{})
	start := time.Now()
	lat := router.Histogram{Bounds: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, Counts: make([]float64, 12)}
	mk := func(i int) []router.DestinationStatus {
		var out []router.DestinationStatus
		for d := range 100 {
			s := status(string(rune('a'+d%26))+string(rune('a'+d/26)), float64(i), 0, lat)
			s.Counters.Reasons["filtered"] = map[string]float64{"filter": 1, "integrations": 2, "consent": 3}
			s.Counters.Reasons["unmatched"] = map[string]float64{"no_trigger": 1}
			s.Counters.Reasons["dead_lettered"]["http_5xx"] = 1
			s.Counters.Reasons["dead_lettered"]["mapping"] = 1
			out = append(out, s)
		}
		return out
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	// Every ring full: 6 minutes at the sampler's 5 s, then a day and
	// more at 1 minute (the finest ring keeps every sample it is given).
	at, i := start, 0
	for ; at.Before(start.Add(6 * time.Minute)); at, i = at.Add(5*time.Second), i+1 {
		h.record(at, mk(i), nil)
	}
	for ; at.Before(start.Add(26 * time.Hour)); at, i = at.Add(time.Minute), i+1 {
		h.record(at, mk(i), nil)
	}
	for _, r := range h.rings["aa"] {
		if r.n != ringPoints {
			t.Fatalf("precondition: a ring holds %d points, want %d", r.n, ringPoints)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / 100
	t.Logf("history: %d KiB per destination", per/1024)
	if per > 256<<10 {
		t.Errorf("the history holds %d KiB per destination, over 256 KiB", per/1024)
	}
	runtime.KeepAlive(h)
}
