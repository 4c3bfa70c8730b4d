package peercorpus_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/contracts"
	"github.com/switchyard/switchyard/internal/peercorpus"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

var update = flag.Bool("update", false, "rewrite docs/peer-report.md")

// fixedNow is the receipt time of inputs that carry no time at all.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	corpusDir  = filepath.Join("testdata", "rudder-transformer-2023")
	catalogDir = filepath.Join("..", "..", "destinations", "catalog")
	reportPath = filepath.Join("..", "..", "docs", "peer-report.md")
)

// TestPeerReport renders every input of the peer corpus through the presets
// of its tool, checks each request against the preset's contract, and
// compares the key fields with the peer's own requests. It fails on a
// crash or a contract failure; the figures go to the log, and to
// docs/peer-report.md with -update:
//
//	go test ./internal/peercorpus -run TestPeerReport -v -update
func TestPeerReport(t *testing.T) {
	cases, err := peercorpus.Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("the corpus is empty")
	}
	h := &harness{t: t, plans: map[string]planOrErr{}}
	reports := map[string]*peercorpus.ToolReport{}
	for i := range cases {
		c := &cases[i]
		def, present := destinations.Lookup(c.Tool)
		tr := reports[c.Tool]
		if tr == nil {
			tr = peercorpus.NewToolReport(c.Tool, present)
			reports[c.Tool] = tr
		}
		if !present {
			tr.Cases++
			if c.Peer.Rendered() {
				tr.PeerRendered++
			}
			continue
		}
		tr.Add(h.render(def, c, tr))
	}
	rep := &peercorpus.Report{Notes: notes}
	for _, name := range sortedTools(reports) {
		rep.Tools = append(rep.Tools, reports[name])
	}
	md := rep.Markdown(header)
	t.Log("\n" + md)
	if *update {
		if err := os.WriteFile(reportPath, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range rep.Tools {
		if !tr.Present {
			t.Logf("%s: no catalog definition yet; its %d cases were not rendered", tr.Tool, tr.Cases)
			continue
		}
		for _, c := range tr.Crashes {
			t.Errorf("%s: CRASH %s", tr.Tool, c)
		}
		for _, c := range tr.ContractErrors {
			t.Errorf("%s: contract failure %s", tr.Tool, c)
		}
	}
}

type planOrErr struct {
	plan *plan.Plan
	err  string
}

type harness struct {
	t     *testing.T
	plans map[string]planOrErr // by destination file text
}

// render maps one case; a panic anywhere is recovered into the outcome.
func (h *harness) render(def *destinations.Definition, c *peercorpus.Case, tr *peercorpus.ToolReport) (o peercorpus.Outcome) {
	o.Case = c
	defer func() {
		if r := recover(); r != nil {
			o.Crash = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	trans := peercorpus.Settings(def, c.Config)
	for _, p := range trans.Placeholders {
		tr.Placeholders[p]++
	}
	pl, perr := h.plan(def, trans.Settings)
	if perr != "" {
		o.Reason = "destination config refused: " + perr
		return o
	}
	ev := map[string]any{}
	for k, v := range c.Event {
		ev[k] = v
	}
	if id, _ := ev["messageId"].(string); c.Event != nil && strings.TrimSpace(id) == "" && ev["messageId"] == nil {
		ev["messageId"] = "peer-" + strings.NewReplacer(".json#", "-", "/", "-", "_", "-").Replace(c.Source)
		o.MessageIDAssigned = true
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		o.Reason = "event cannot be encoded: " + err.Error()
		return o
	}
	got := pl.Preview(raw, plan.PreviewOptions{Reveal: true, Now: receipt(ev)})
	if len(got.Requests) == 0 {
		o.Reason = reason(got, ev)
		return o
	}
	o.Rendered = true
	for _, r := range got.Requests {
		o.Requests = append(o.Requests, peercorpus.Request{Method: r.Method, URL: r.URL, Body: r.Body})
		body, _ := json.Marshal(r.Body)
		pr, ok := def.Preset(presetOf(pl, r.Action))
		if !ok {
			o.ContractErrors = append(o.ContractErrors, "action "+r.Action+" is no preset")
			continue
		}
		if err := contracts.Validate(filepath.Join(catalogDir, def.Name), pr.Contract, body); err != nil {
			o.ContractErrors = append(o.ContractErrors, fmt.Sprintf("action %s: %v; body: %s", r.Action, err, body))
		}
	}
	return o
}

// plan builds (once per distinct config) a destination with every preset
// of the tool enabled, so that each input meets each preset that applies.
// Secret settings are written as ${ENV} references, as operators must.
func (h *harness) plan(def *destinations.Definition, settings map[string]any) (*plan.Plan, string) {
	env := map[string]string{}
	file := map[string]any{"name": "peer", "type": def.Name}
	s := map[string]any{}
	for k, v := range settings {
		if set, ok := def.Setting(k); ok && set.Secret {
			name := "PEER_" + strings.ToUpper(k)
			env[name] = fmt.Sprint(v)
			v = "${" + name + "}"
		}
		s[k] = v
	}
	file["settings"] = s
	presets := def.PresetsTogether()
	file["presets"] = presets
	text, err := yaml.Marshal(file)
	if err != nil {
		return nil, err.Error()
	}
	key := string(text) + fmt.Sprint(env)
	if p, ok := h.plans[key]; ok {
		return p.plan, p.err
	}
	p := h.build(text, env)
	h.plans[key] = p
	return p.plan, p.err
}

func (h *harness) build(text []byte, env map[string]string) planOrErr {
	dir := h.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "destinations", "peer.yaml"), text, 0o644); err != nil {
		h.t.Fatal(err)
	}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	cfg, diags := config.Load(dir, config.Options{Lookup: lookup})
	if diags.Err() != nil {
		return planOrErr{err: diags.Err().Error()}
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		return planOrErr{err: diags.Err().Error()}
	}
	for _, p := range plans {
		return planOrErr{plan: p}
	}
	return planOrErr{err: "no destination"}
}

// receipt is when the input is taken to have reached switchyard. The corpus
// has no receivedAt; sentAt stands for it (no network delay), so that the
// skew correction (timestamp = receivedAt − (sentAt − originalTimestamp))
// keeps the client's time, as the peer does. An input with no time at all
// gets fixedNow.
func receipt(ev map[string]any) time.Time {
	if t, ok := mappings.ParseTime(ev["sentAt"]); ok {
		return t
	}
	return fixedNow
}

func reason(p plan.PreviewEvent, ev map[string]any) string {
	switch {
	case p.Invalid != "":
		return "invalid event: " + p.Invalid
	case len(p.Failures) > 0:
		f := p.Failures[0]
		return f.Action + ": " + f.Error
	case p.Outcome == "unmatched":
		kind, _ := ev["type"].(string)
		if kind == "track" {
			kind = fmt.Sprintf("track %q", ev["event"])
		}
		return "unmatched: no preset takes " + kind + " calls"
	case p.Reason != "":
		return p.Outcome + ": " + p.Reason
	}
	return p.Outcome
}

func presetOf(p *plan.Plan, action string) string {
	for _, a := range p.Actions {
		if a.Name == action {
			if a.Preset != "" {
				return a.Preset
			}
			return a.Name
		}
	}
	return action
}

func sortedTools(m map[string]*peercorpus.ToolReport) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
