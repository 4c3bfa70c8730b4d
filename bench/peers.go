package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/nodetool"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// Phase P: the peer table. The same N events of the mix, on the same
// machine, in the same run, mapped by:
//
//   - switchyard's mapping language (in this process: decode, Plan.Route,
//     the JSON body), the 10-field mapping of phase B, and the default
//     presets of Amplitude, Braze and Mixpanel;
//   - Bloblang (bench/peers/bloblang, its own module: parse, the 10-field
//     mapping written in Bloblang, encode);
//   - Segment's own action definitions through @segment/actions-core in
//     Node (bench/peers/segment/run.mjs, sharing internal/parity/oracle's
//     pinned install: parse, the automatic presets' subscriptions, the
//     actions' default mappings, the request), for the same three tools.
//
// Each figure is events per second per core: events ÷ the CPU time of the
// process over the loop (every thread, the garbage collector included),
// one event at a time.

// peerResult is one row of the peer table.
type peerResult struct {
	work, engine string
	events       int
	cpu          time.Duration
	note         string
}

func (p peerResult) perCore() float64 { return float64(p.events) / p.cpu.Seconds() }

// peerTools are the preset tools of the table: a catalog tool, its
// switchyard settings (of a golden case) and its Segment settings (from
// its parity.yaml).
var peerTools = []struct{ tool, settings string }{
	{"amplitude", "  api_key: ${BENCH_SECRET}\n"},
	{"braze", "  api_key: ${BENCH_SECRET}\n  instance: US-01\n"},
	{"mixpanel", "  project_id: \"3120345\"\n  token: ${BENCH_SECRET}\n"},
}

func (b *bench) phaseP(ctx context.Context) error {
	if err := os.Setenv("BENCH_SECRET", "bench-secret-not-a-real-key"); err != nil {
		return err
	}
	n := b.o.peersN
	ev := newEvents(b.o.seed, 'P', "pp")
	raws := make([][]byte, n)
	var jsonl bytes.Buffer
	for i := range n {
		_, raws[i] = ev.next(i)
		jsonl.Write(raws[i])
		jsonl.WriteByte('\n')
	}
	eventsFile := filepath.Join(b.dir, "peer-events.jsonl")
	if err := os.WriteFile(eventsFile, jsonl.Bytes(), 0o644); err != nil {
		return err
	}

	// switchyard: the 10-field mapping.
	p, err := b.peerPlan("mapped", workload.MappedDestination("pp", "http://127.0.0.1:9/sink", 16, 256))
	if err != nil {
		return err
	}
	res, ours, err := switchyardPeer(p, raws, "10-field mapping")
	if err != nil {
		return err
	}
	b.rep.peers = append(b.rep.peers, res)
	logf("phase P: switchyard, 10-field mapping: %.0f events/s per core", res.perCore())

	// Bloblang: the same mapping, in its own module.
	bodiesFile := filepath.Join(b.dir, "peer-bloblang-bodies.jsonl")
	logf("phase P: Bloblang (go run ./bench/peers/bloblang)")
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-events", eventsFile, "-bodies", bodiesFile, "-keep", "1000")
	cmd.Dir = filepath.Join("bench", "peers", "bloblang")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("bloblang peer: %w", err)
	}
	var bl struct {
		Events     int     `json:"events"`
		CPUSeconds float64 `json:"cpu_seconds"`
	}
	if err := json.Unmarshal(out, &bl); err != nil {
		return fmt.Errorf("bloblang peer output %q: %w", out, err)
	}
	same, compared := sameBodies(ours, bodiesFile)
	b.rep.peers = append(b.rep.peers, peerResult{work: "10-field mapping", engine: "Bloblang (benthos v4.60.0)", events: bl.Events,
		cpu: time.Duration(bl.CPUSeconds * float64(time.Second)), note: fmt.Sprintf("the same body as switchyard's for %d of the first %d events", same, compared)})
	logf("phase P: Bloblang, 10-field mapping: %.0f events/s per core (%d of %d bodies as switchyard's)", float64(bl.Events)/bl.CPUSeconds, same, compared)

	// The preset tools: switchyard's presets, then Segment's definitions.
	type segTool struct {
		Tool        string         `json:"tool"`
		Destination string         `json:"destination"`
		Settings    map[string]any `json:"settings"`
	}
	var segTools []segTool
	for _, t := range peerTools {
		p, err := b.peerPlan(t.tool, catalogFanout(t.tool, t.settings).file("http://127.0.0.1:9/sink"))
		if err != nil {
			return err
		}
		res, _, err := switchyardPeer(p, raws, t.tool+" presets")
		if err != nil {
			return err
		}
		b.rep.peers = append(b.rep.peers, res)
		logf("phase P: switchyard, %s presets: %.0f events/s per core", t.tool, res.perCore())
		seg, err := segmentOf(t.tool)
		if err != nil {
			return err
		}
		segTools = append(segTools, segTool{Tool: t.tool, Destination: seg.Destination, Settings: seg.Settings})
	}
	results, err := segmentPeer(ctx, eventsFile, segTools, b.dir)
	if err != nil {
		return err
	}
	for _, r := range results {
		note := fmt.Sprintf("%s actions run, %s requests built", num(float64(r.Actions)), num(float64(r.Requests)))
		if r.Errors > 0 {
			note += fmt.Sprintf("; %s actions refused the event (first: %s)", num(float64(r.Errors)), truncate(r.FirstError, 80))
		}
		b.rep.peers = append(b.rep.peers, peerResult{work: r.Tool + " presets", engine: "Segment actions-core (Node " + nodeVersion() + ")", events: r.Events,
			cpu: time.Duration(r.CPUSeconds * float64(time.Second)), note: note})
		logf("phase P: Segment, %s presets: %.0f events/s per core (%s)", r.Tool, float64(r.Events)/r.CPUSeconds, note)
	}
	return nil
}

// peerPlan builds one destination's plan from its file.
func (b *bench) peerPlan(name, file string) (*plan.Plan, error) {
	dir := filepath.Join(b.dir, "config-P-"+name)
	if err := writeConfig(dir, b.nats.url, freeAddr(), name, file); err != nil {
		return nil, err
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		return nil, diags.Err()
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		return nil, diags.Err()
	}
	return plans[name], nil
}

// switchyardPeer decodes and routes every event, one at a time, as a lane
// does, and returns the first 1,000 bodies of the first request of each.
func switchyardPeer(p *plan.Plan, raws [][]byte, work string) (peerResult, [][]byte, error) {
	if p == nil {
		return peerResult{}, nil, fmt.Errorf("%s: no plan", work)
	}
	env := &mappings.Env{}
	var bodies [][]byte
	runtime.GC()
	cpu0 := processCPU()
	now := time.Now()
	requests := 0
	for i, raw := range raws {
		ev, err := mappings.Decode(raw, now, p.Limits())
		if err != nil {
			return peerResult{}, nil, fmt.Errorf("%s: event %d: %w", work, i, err)
		}
		rt := p.Route(ev, "pp", raw, env, plan.RouteOptions{})
		requests += len(rt.Requests)
		if i < 1000 && len(rt.Requests) > 0 {
			bodies = append(bodies, rt.Requests[0].Req.Body)
		}
	}
	cpu := processCPU() - cpu0
	return peerResult{work: work, engine: "switchyard", events: len(raws), cpu: cpu,
		note: fmt.Sprintf("%s requests (batch items for a batching preset)", num(float64(requests)))}, bodies, nil
}

// sameBodies counts the Bloblang bodies equal, as JSON, to switchyard's.
func sameBodies(ours [][]byte, file string) (same, compared int) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if i >= len(ours) {
			break
		}
		var a, b any
		compared++
		if json.Unmarshal(line, &a) == nil && json.Unmarshal(ours[i], &b) == nil && reflect.DeepEqual(a, b) {
			same++
		}
	}
	return same, compared
}

// segmentOf reads how internal/parity runs Segment's definition of a tool.
func segmentOf(tool string) (seg struct {
	Destination string         `yaml:"destination"`
	Settings    map[string]any `yaml:"settings"`
}, err error) {
	data, err := os.ReadFile(filepath.Join("destinations", "catalog", tool, "parity.yaml"))
	if err != nil {
		return seg, err
	}
	var f struct {
		Segment struct {
			Destination string         `yaml:"destination"`
			Settings    map[string]any `yaml:"settings"`
		} `yaml:"segment"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return seg, fmt.Errorf("%s parity.yaml: %w", tool, err)
	}
	seg.Destination, seg.Settings = f.Segment.Destination, f.Segment.Settings
	return seg, nil
}

type segmentResult struct {
	Tool       string  `json:"tool"`
	Events     int     `json:"events"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Actions    int     `json:"actions"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error"`
}

// segmentPeer installs the parity oracle's packages (once) and runs
// bench/peers/segment/run.mjs on them.
func segmentPeer(ctx context.Context, eventsFile string, tools any, dir string) ([]segmentResult, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("the Segment peer: node is not on PATH (install Node.js >= 20): %w", err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("the Segment peer: npm is not on PATH: %w", err)
	}
	oracle, err := filepath.Abs(filepath.Join("internal", "parity", "oracle"))
	if err != nil {
		return nil, err
	}
	logf("phase P: Segment actions-core (npm ci in %s when needed)", oracle)
	if err := nodetool.InstallDir(npm, oracle); err != nil {
		return nil, err
	}
	toolsFile := filepath.Join(dir, "peer-segment-tools.json")
	data, err := json.Marshal(tools)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(toolsFile, data, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join("bench", "peers", "segment", "run.mjs"), oracle, eventsFile, toolsFile)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("the Segment peer: %w", err)
	}
	var res struct {
		Results []segmentResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("the Segment peer's output: %w", err)
	}
	return res.Results, nil
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// processCPU is this process's CPU time, user and system, every thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peersMarkdown is the peer table.
func (r *report) peersMarkdown() string {
	if len(r.peers) == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n#### Side by side with peers (phase P)\n\nThe same %s events of the mix, one at a time, on one core each: parse the event, map it, build the request body. Events/s per core = events ÷ the process's CPU time over the loop (every thread, GC included).\n\n", num(float64(r.peers[0].events)))
	sb.WriteString("| work | engine | events/s per core | CPU per event | notes |\n| --- | --- | ---: | ---: | --- |\n")
	for _, p := range r.peers {
		fmt.Fprintf(&sb, "| %s | %s | %s | %.1f µs | %s |\n", p.work, p.engine, num(p.perCore()), us(p.cpu/time.Duration(p.events)), p.note)
	}
	return sb.String()
}

// peersTargets is the peer goal's row of the targets table: switchyard's
// mapping the fastest on every work.
func (r *report) peersTargets() string {
	if len(r.peers) == 0 {
		return ""
	}
	var works []string
	best := map[string]peerResult{}
	ours := map[string]peerResult{}
	for _, p := range r.peers {
		if _, seen := best[p.work]; !seen {
			works = append(works, p.work)
		}
		if b, ok := best[p.work]; !ok || p.perCore() > b.perCore() {
			best[p.work] = p
		}
		if p.engine == "switchyard" {
			ours[p.work] = p
		}
	}
	var parts []string
	fastest := true
	for _, w := range works {
		o, b := ours[w], best[w]
		if b.engine != "switchyard" {
			fastest = false
			parts = append(parts, fmt.Sprintf("%s: %s %.2f × switchyard", w, b.engine, b.perCore()/o.perCore()))
			continue
		}
		second := 0.0
		for _, p := range r.peers {
			if p.work == w && p.engine != "switchyard" {
				second = max(second, p.perCore())
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %.1f × the next", w, o.perCore()/second))
	}
	return fmt.Sprintf("| switchyard's mapping against Bloblang and Segment's actions-core (P) | %s | fastest on each | %s |\n",
		strings.Join(parts, "; "), passMiss(fastest, "not the fastest everywhere"))
}
