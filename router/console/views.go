package console

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router"
)

// The views are the pages' data, and their JSON (golden-tested in
// testdata/): plain values, null for what is unknown (a success rate when
// nothing was sent, a DLQ depth JetStream did not give).

// Health of a destination, for the overview's attention list.
const (
	HealthOK       = "ok"
	HealthDegraded = "degraded"
	HealthFailing  = "failing"
	HealthDisabled = "disabled"
)

// OverviewView is the overview page.
type OverviewView struct {
	Window        string           `json:"window"`
	Ready         bool             `json:"ready"`
	Access        string           `json:"access"` // read-only, or admin (replay and purge allowed)
	Destinations  []DestinationRow `json:"destinations"`
	Attention     []Attention      `json:"attention"`
	InvalidShared *int             `json:"invalidShared"` // shared entries of invalid events
	DLQError      string           `json:"dlqError,omitempty"`
}

// Attention names a destination that is not healthy, and why.
type Attention struct {
	Destination string `json:"destination"`
	Health      string `json:"health"`
	Why         string `json:"why"`
}

// DestinationRow is one destination's line of the overview, and the head
// of its page.
type DestinationRow struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	File    string   `json:"file,omitempty"`
	Sources []string `json:"sources"`
	// State: running, breaker open, half-open, paused by Retry-After, disabled.
	State              string   `json:"state"`
	Breaker            string   `json:"breaker"`
	BreakerWaitSeconds *float64 `json:"breakerWaitSeconds"`
	PausedSeconds      *float64 `json:"pausedSeconds"`
	Health             string   `json:"health"`
	// Why the destination is not healthy: its newest failure, redacted.
	Why                  string         `json:"why,omitempty"`
	Window               WindowFigures  `json:"window"`
	Lag                  float64        `json:"lag"`
	InFlight             float64        `json:"inFlight"`
	OldestUnackedSeconds float64        `json:"oldestUnackedSeconds"`
	DLQ                  *int           `json:"dlq"`
	RateLimit            float64        `json:"rateLimit"`       // requests/s now; 0: unlimited
	RateLimitTarget      float64        `json:"rateLimitTarget"` // configured; 0: unlimited
	LastFailure          *router.Sample `json:"-"`
}

// WindowFigures are a destination's figures over the selected window.
type WindowFigures struct {
	Name           string  `json:"name"`
	CoveredSeconds float64 `json:"coveredSeconds"` // less than the window while the router is younger
	// Events that reached a final outcome, and per outcome (retried counts
	// redeliveries).
	Events          float64            `json:"events"`
	EventsPerSecond float64            `json:"eventsPerSecond"`
	Outcomes        map[string]float64 `json:"outcomes"`
	// SuccessRate is delivered / (delivered + dead_lettered).
	SuccessRate *float64 `json:"successRate"`
	Requests    float64  `json:"requests"`
	// RequestErrorRate is the share of HTTP attempts that failed.
	RequestErrorRate *float64 `json:"requestErrorRate"`
	P95LatencyMS     *float64 `json:"p95LatencyMs"`
	// Series are per step, oldest first, for the sparklines.
	Series  Series `json:"series"`
	reasons map[string]float64
}

// Series are a window's per-step values.
type Series struct {
	EventsPerSecond []*float64 `json:"eventsPerSecond"`
	ErrorRate       []*float64 `json:"errorRate"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func nums(vs []float64) []*float64 {
	out := make([]*float64, len(vs))
	for i, v := range vs {
		out[i] = num(v)
	}
	return out
}

// row builds one destination's row from its status, the history and its
// newest failure.
func (c *Console) row(s router.DestinationStatus, w Window, now time.Time, dlq map[string]int, dlqKnown bool) DestinationRow {
	r := DestinationRow{
		Name: s.Name, Type: s.Type, File: s.File, Sources: s.Sources, State: s.State, Breaker: s.Breaker,
		Lag: s.Lag, InFlight: s.InFlight, OldestUnackedSeconds: s.OldestUnacked,
		RateLimit: s.Rate, RateLimitTarget: s.RateTarget,
	}
	if s.BreakerWait > 0 || s.State == router.StateOpen {
		r.BreakerWaitSeconds = num(s.BreakerWait.Seconds())
	}
	if s.Paused > 0 {
		r.PausedSeconds = num(s.Paused.Seconds())
	}
	if dlqKnown {
		n := dlq[s.Name]
		r.DLQ = &n
	}
	live := pointOf(now, s, dlq[s.Name])
	st := computeStats(c.hist.series(s.Name, w, live))
	d := st.Delta
	r.Window = WindowFigures{
		Name: w.Name, CoveredSeconds: st.Covered.Seconds(), Events: st.Final, EventsPerSecond: st.EventsPerSecond,
		Outcomes: map[string]float64{
			"delivered": d.delivered, "filtered": d.filtered, "unmatched": d.unmatched,
			"invalid": d.invalid, "dead_lettered": d.dead, "retried": d.retried,
		},
		SuccessRate: num(st.SuccessRate), Requests: d.reqOK + d.reqFailed, RequestErrorRate: num(st.RequestErrorRate),
		Series:  Series{EventsPerSecond: nums(st.Rates), ErrorRate: nums(st.ErrorRates)},
		reasons: d.reasons,
	}
	if st.P95 >= 0 {
		r.Window.P95LatencyMS = num(float64(st.P95) / float64(time.Millisecond))
	}
	if failures, _, ok := c.r.Samples(s.Name); ok && len(failures) > 0 {
		f := failures[0]
		r.LastFailure = &f
	}
	r.Health, r.Why = health(r)
	return r
}

// health judges a row: failing when the breaker is not closed or most of
// the window's events were dead-lettered; degraded when anything failed in
// the window, the tool holds attempts off, or dead letters wait.
func health(r DestinationRow) (string, string) {
	w := r.Window
	dead, invalid := w.Outcomes["dead_lettered"], w.Outcomes["invalid"]
	last := ""
	if r.LastFailure != nil {
		last = "last failure: " + describeSample(*r.LastFailure)
	}
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, "; ")
	}
	switch {
	case r.State == router.StateDisabled:
		return HealthDisabled, "enabled: false in its config"
	case r.State == router.StateOpen:
		wait := ""
		if r.BreakerWaitSeconds != nil {
			wait = fmt.Sprintf(" (probes again in %s)", fmtSeconds(*r.BreakerWaitSeconds))
		}
		return HealthFailing, join("circuit breaker open: the tool failed repeatedly, nothing is sent"+wait, last)
	case r.State == router.StateHalfOpen:
		return HealthFailing, join("circuit breaker half-open: one probe request decides", last)
	case dead > 0 && w.SuccessRate != nil && *w.SuccessRate < 0.5:
		return HealthFailing, join(fmt.Sprintf("%s of %s events dead-lettered in the last %s", fmtCount(dead), fmtCount(dead+w.Outcomes["delivered"]), w.Name), last)
	case r.State == router.StatePaused:
		return HealthDegraded, join(fmt.Sprintf("the tool asked to wait (Retry-After): paused %s more", fmtSeconds(deref(r.PausedSeconds))), last)
	case dead+invalid > 0:
		var what []string
		if dead > 0 {
			what = append(what, fmtCount(dead)+" dead-lettered")
		}
		if invalid > 0 {
			what = append(what, fmtCount(invalid)+" invalid")
		}
		return HealthDegraded, join(strings.Join(what, " and ")+" in the last "+w.Name, last)
	case w.RequestErrorRate != nil && *w.RequestErrorRate > 0:
		return HealthDegraded, join(fmt.Sprintf("%s of requests failed in the last %s (retried)", fmtPercent(w.RequestErrorRate), w.Name), last)
	case r.DLQ != nil && *r.DLQ > 0:
		return HealthDegraded, join(fmt.Sprintf("%d dead letters wait in the DLQ", *r.DLQ), last)
	}
	return HealthOK, ""
}

// describeSample is one line saying what a sample's failure was: its
// reason, action, error and the start of the tool's answer.
func describeSample(s router.Sample) string {
	var b strings.Builder
	b.WriteString(s.Reason)
	if s.Action != "" {
		b.WriteString(" in action " + s.Action)
	}
	status := 0
	if s.Response != nil {
		status = s.Response.Status
	}
	switch {
	case s.Error != "":
		b.WriteString(": " + clip(s.Error, 200))
	case status != 0:
		fmt.Fprintf(&b, ": HTTP %d", status)
	}
	if s.Response != nil && strings.TrimSpace(s.Response.Body) != "" {
		b.WriteString(" — " + clip(strings.Join(strings.Fields(s.Response.Body), " "), 120))
	}
	return b.String()
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// overview is GET /.
func (c *Console) overview(w http.ResponseWriter, req *http.Request) {
	win := windowByName(req.URL.Query().Get("window"))
	v := c.overviewView(req.Context(), win)
	c.page(w, req, http.StatusOK, "overview", chrome{Title: "Destinations", Nav: "overview", Window: win.Name, Refresh: refresh(req)}, v)
}

func (c *Console) overviewView(ctx context.Context, win Window) OverviewView {
	v := OverviewView{Window: win.Name, Ready: c.r.Ready(), Access: "read-only", Destinations: []DestinationRow{}, Attention: []Attention{}}
	if c.canWrite() {
		v.Access = "admin"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dlq, invalid, err := c.r.DLQDepths(ctx)
	if err != nil {
		v.DLQError = err.Error()
	} else {
		v.InvalidShared = &invalid
	}
	now := time.Now()
	for _, s := range c.r.Status() {
		row := c.row(s, win, now, dlq, err == nil)
		v.Destinations = append(v.Destinations, row)
		if row.Health == HealthFailing || row.Health == HealthDegraded {
			v.Attention = append(v.Attention, Attention{Destination: row.Name, Health: row.Health, Why: row.Why})
		}
	}
	// Failing first, then degraded.
	sort.SliceStable(v.Attention, func(i, j int) bool {
		return v.Attention[i].Health == HealthFailing && v.Attention[j].Health != HealthFailing
	})
	return v
}

// refresh reads ?refresh=N (seconds, 5 to 300): the page reloads itself
// with a meta refresh, which needs no script.
func refresh(req *http.Request) int {
	var n int
	if _, err := fmt.Sscan(req.URL.Query().Get("refresh"), &n); err != nil || n <= 0 {
		return 0
	}
	return min(max(n, 5), 300)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
