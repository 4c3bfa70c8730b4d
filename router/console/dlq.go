package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/router"
)

// The DLQ page lists a destination's dead letters and, with the token,
// replays or purges them with the same functions the CLI's dlq commands
// use (router.ReplayDeadLetters, router.PurgeDeadLetters): the entry is
// re-delivered to this destination alone with its config as loaded now, so
// an operator fixes the config (or waits for the tool), then replays.

// DLQ listing bounds.
const (
	defaultDLQLimit = 100
	maxDLQLimit     = 1000
	// replayTimeout bounds a replay or a purge run from the console.
	replayTimeout = 5 * time.Minute
	keepReports   = 32
)

// DLQView is a destination's DLQ page.
type DLQView struct {
	Destination string `json:"destination"`
	// Depth counts the destination's own entries; InvalidShared the
	// shared entries of invalid events (of every destination that read
	// them), which the list shows too when they name this destination.
	Depth         *int       `json:"depth"`
	InvalidShared *int       `json:"invalidShared"`
	Limit         int        `json:"limit"`
	Since         string     `json:"since,omitempty"`
	Entries       []DLQEntry `json:"entries"`
	// More says the list stopped at Limit: there are more entries.
	More     bool          `json:"more"`
	ByStatus []StatusCount `json:"byStatus"`
	CanWrite bool          `json:"canWrite"`
	Report   *ActionReport `json:"report,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// DLQEntry is one dead letter, as `switchyard dlq list --json` shows it.
type DLQEntry struct {
	Seq          uint64          `json:"seq"`
	FailedAt     time.Time       `json:"failedAt"`
	FirstAttempt time.Time       `json:"firstAttempt"`
	Status       int             `json:"status"`
	Attempts     int             `json:"attempts"`
	Actions      []string        `json:"actions"`
	MessageID    string          `json:"messageId"`
	Reason       string          `json:"reason"`
	Subject      string          `json:"subject"`
	Response     string          `json:"response"`
	Event        json.RawMessage `json:"event"`
	Shared       bool            `json:"shared,omitempty"`
	Destinations []string        `json:"destinations,omitempty"`
}

// StatusCount counts the listed entries of one HTTP status (0: no HTTP
// answer, a mapping failure or an invalid event).
type StatusCount struct {
	Status int `json:"status"`
	Count  int `json:"count"`
}

// ActionReport is what a replay or a purge did.
type ActionReport struct {
	ID     string `json:"id,omitempty"`
	Action string `json:"action"` // replay or purge
	// Replay: events by outcome, the reasons of those not delivered, and
	// what became of the entries (removed, replaced, kept, stuck); its
	// counts are the console's own, not in switchyard_events_total.
	Replayed int            `json:"replayed,omitempty"`
	Outcomes map[string]int `json:"outcomes,omitempty"`
	Reasons  map[string]int `json:"reasons,omitempty"`
	Entries  map[string]int `json:"entries,omitempty"`
	Purged   int            `json:"purged,omitempty"`
	Problems []string       `json:"problems,omitempty"`
	Error    string         `json:"error,omitempty"`
	Failed   bool           `json:"failed"`
}

type storedReport struct {
	dest string
	rep  ActionReport
}

// dlq is GET /destinations/{name}/dlq[?limit=N&since=2h&report=ID].
func (c *Console) dlq(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	if _, ok := c.r.Plan(name); !ok {
		c.noDestination(w, req, name)
		return
	}
	q := req.URL.Query()
	limit := defaultDLQLimit
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, maxDLQLimit)
	}
	var since time.Duration
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			c.fail(w, req, http.StatusBadRequest, fmt.Sprintf("since=%q: want a duration such as 2h or 30m", s))
			return
		}
		since = d
	}
	v := c.dlqView(req.Context(), name, limit, since)
	if id := q.Get("report"); id != "" {
		v.Report = c.report(name, id)
	}
	c.page(w, req, http.StatusOK, "dlq", chrome{Title: name + " dead letters", Nav: "dlq", Dest: name}, v)
}

func (c *Console) dlqView(ctx context.Context, name string, limit int, since time.Duration) DLQView {
	v := DLQView{Destination: name, Limit: limit, Entries: []DLQEntry{}, ByStatus: []StatusCount{}, CanWrite: c.canWrite()}
	if since > 0 {
		v.Since = since.String()
	}
	js, ok := c.r.Routing()
	if !ok {
		v.Error = "not connected to NATS yet"
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if depths, invalid, err := c.r.DLQDepths(ctx); err == nil {
		n := depths[name]
		v.Depth, v.InvalidShared = &n, &invalid
	}
	statuses := map[int]int{}
	err := router.ListDeadLetters(ctx, js, name, router.DLQSelect{Limit: limit + 1, Since: since}, func(seq uint64, dl *router.DeadLetter) bool {
		if len(v.Entries) == limit {
			v.More = true
			return false
		}
		v.Entries = append(v.Entries, entryOf(seq, dl))
		statuses[dl.Status]++
		return true
	})
	if err != nil {
		v.Error = "reading the DLQ: " + err.Error()
	}
	for s, n := range statuses {
		v.ByStatus = append(v.ByStatus, StatusCount{Status: s, Count: n})
	}
	sort.Slice(v.ByStatus, func(i, j int) bool { return v.ByStatus[i].Status < v.ByStatus[j].Status })
	return v
}

func entryOf(seq uint64, dl *router.DeadLetter) DLQEntry {
	e := DLQEntry{
		Seq: seq, FailedAt: dl.FailedAt, FirstAttempt: dl.FirstAttempt, Status: dl.Status, Attempts: dl.Attempts,
		Actions: dl.Actions, MessageID: dl.MessageID, Reason: dl.Reason, Subject: dl.Subject,
		Response: string(dl.Response), Shared: dl.Shared, Destinations: dl.Destinations,
	}
	if e.Actions == nil {
		e.Actions = []string{}
	}
	if json.Valid(dl.Data) {
		e.Event = json.RawMessage(dl.Data)
	} else {
		e.Event, _ = json.Marshal(string(dl.Data))
	}
	return e
}

// actionRequest reads a replay or purge: the entries named (seq, one or
// more, form or JSON {"seqs": [...]}), or all of them (all=1).
type actionRequest struct {
	Seqs    []uint64 `json:"seqs"`
	All     bool     `json:"all"`
	Confirm bool     `json:"confirm"` // purge all: confirm=yes
}

func readAction(req *http.Request) (actionRequest, error) {
	var a actionRequest
	if ct := req.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if err := json.NewDecoder(req.Body).Decode(&a); err != nil {
			return a, fmt.Errorf("reading the JSON body: %w", err)
		}
	} else {
		if err := req.ParseForm(); err != nil {
			return a, fmt.Errorf("reading the form: %w", err)
		}
		for _, s := range req.PostForm["seq"] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil || n == 0 {
				return a, fmt.Errorf("seq=%q: want a DLQ stream sequence", s)
			}
			a.Seqs = append(a.Seqs, n)
		}
		a.All = req.PostFormValue("all") == "1"
		a.Confirm = req.PostFormValue("confirm") == "yes"
	}
	if len(a.Seqs) > maxDLQLimit {
		return a, fmt.Errorf("%d entries named: at most %d at once", len(a.Seqs), maxDLQLimit)
	}
	if len(a.Seqs) == 0 && !a.All {
		return a, fmt.Errorf("no entry selected: tick entries, or ask for all")
	}
	return a, nil
}

// replay is POST /destinations/{name}/dlq/replay.
func (c *Console) replay(w http.ResponseWriter, req *http.Request) {
	c.act(w, req, "replay", func(ctx context.Context, js jetstream.JetStream, name string, a actionRequest) ActionReport {
		rep := ActionReport{Action: "replay"}
		p, ok := c.r.Plan(name)
		if !ok {
			rep.Error = "no running destination " + name
			return rep
		}
		sel := router.DLQSelect{Seqs: a.Seqs}
		res, err := router.ReplayDeadLetters(ctx, js, p, sel, c.r.RegulationsView(), c.r.ReplayObserver(), nil)
		if res != nil {
			rep.Replayed, rep.Entries, rep.Reasons, rep.Problems = res.Total(), res.Entries, res.Reasons, res.Problems
			rep.Outcomes = map[string]int{}
			for o, n := range res.Outcomes {
				rep.Outcomes[string(o)] = n
			}
			rep.Failed = res.Failed()
		}
		if err != nil {
			rep.Error = err.Error()
		}
		c.log.Info("dead letters replayed from the console", "destination", name, "replayed", rep.Replayed,
			"removed", rep.Entries["removed"], "replaced", rep.Entries["replaced"], "err", rep.Error)
		return rep
	})
}

// purge is POST /destinations/{name}/dlq/purge.
func (c *Console) purge(w http.ResponseWriter, req *http.Request) {
	c.act(w, req, "purge", func(ctx context.Context, js jetstream.JetStream, name string, a actionRequest) ActionReport {
		rep := ActionReport{Action: "purge"}
		if a.All && !a.Confirm {
			rep.Error = "purging every dead letter needs confirm=yes"
			return rep
		}
		n, err := router.PurgeDeadLetters(ctx, js, name, a.Seqs)
		rep.Purged = n
		if err != nil {
			rep.Error = err.Error()
		}
		c.log.Info("dead letters purged from the console", "destination", name, "purged", n, "err", rep.Error)
		return rep
	})
}

// act runs a replay or a purge: token required, one at a time per
// destination. A browser is redirected to the DLQ page showing the report
// (so a reload does not post again); a script gets the report.
func (c *Console) act(w http.ResponseWriter, req *http.Request, what string, run func(context.Context, jetstream.JetStream, string, actionRequest) ActionReport) {
	name := req.PathValue("name")
	if !c.canWrite() {
		c.fail(w, req, http.StatusForbidden, "the console is read-only: set admin.token in switchyard.yaml to "+what+" from here (or use switchyard dlq "+what+")")
		return
	}
	if bearer, _ := req.Context().Value(bearerKey).(bool); !bearer && !c.validCSRF(req.PostFormValue("csrf")) {
		c.fail(w, req, http.StatusForbidden, "missing or invalid CSRF token: reload the page and submit its form again")
		return
	}
	js, routing := c.r.Routing()
	if _, ok := c.r.Plan(name); !ok {
		c.noDestination(w, req, name)
		return
	}
	if !routing {
		c.fail(w, req, http.StatusServiceUnavailable, "not routing yet (starting, or NATS not reached): try again in a moment")
		return
	}
	a, err := readAction(req)
	if err != nil {
		c.fail(w, req, http.StatusBadRequest, what+": "+err.Error())
		return
	}
	if !c.claim(name) {
		c.fail(w, req, http.StatusConflict, "a replay or purge of "+name+" is running: wait for it to end")
		return
	}
	defer c.release(name)
	// The run ends its own work even if the client goes away: an
	// interrupted replay loses nothing, but a finished one reports.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), replayTimeout)
	defer cancel()
	rep := run(ctx, js, name, a)
	rep.Failed = rep.Failed || rep.Error != ""
	status := http.StatusOK
	if rep.Error != "" && rep.Replayed == 0 && rep.Purged == 0 {
		status = http.StatusUnprocessableEntity
	}
	if wantsJSON(req) {
		writeJSON(w, status, rep)
		return
	}
	id := c.keepReport(name, rep)
	http.Redirect(w, req, "/destinations/"+url.PathEscape(name)+"/dlq?report="+id, http.StatusSeeOther)
}

func (c *Console) claim(name string) bool {
	c.busyMu.Lock()
	defer c.busyMu.Unlock()
	if c.busy[name] {
		return false
	}
	c.busy[name] = true
	return true
}

func (c *Console) release(name string) {
	c.busyMu.Lock()
	defer c.busyMu.Unlock()
	delete(c.busy, name)
}

// keepReport stores a report for the page the browser is sent to; the
// oldest go first.
func (c *Console) keepReport(dest string, rep ActionReport) string {
	rep.ID = randomID()
	c.reportsMu.Lock()
	defer c.reportsMu.Unlock()
	if len(c.reports) >= keepReports {
		c.reports = c.reports[1:]
	}
	c.reports = append(c.reports, storedReport{dest: dest, rep: rep})
	return rep.ID
}

func (c *Console) report(dest, id string) *ActionReport {
	c.reportsMu.Lock()
	defer c.reportsMu.Unlock()
	for _, r := range c.reports {
		if r.dest == dest && r.rep.ID == id {
			rep := r.rep
			return &rep
		}
	}
	return nil
}
