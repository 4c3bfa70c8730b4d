package parity_test

import (
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/nodetool"
	"github.com/switchyard/switchyard/internal/parity"
)

var update = flag.Bool("update", false, "rewrite docs/segment-parity.md")

var (
	catalogDir = filepath.Join("..", "..", "destinations", "catalog")
	peerDir    = filepath.Join("..", "peercorpus", "testdata", "rudder-transformer-2023")
	corpusFile = filepath.Join("testdata", "ecommerce.json")
	reportPath = filepath.Join("..", "..", "docs", "segment-parity.md")
)

// minAfter is the key-field agreement every tool must keep once its
// adjudicated differences are accepted.
const minAfter = 95.0

// TestSegmentParity runs the corpus through switchyard's presets and
// through Segment's own destination definitions (oracle/run.mjs), compares
// each tool's key fields, and fails on any difference its parity.yaml does
// not adjudicate, on any adjudication that matches nothing, and on any
// tool under minAfter agreement after adjudication. With -update it writes
// docs/segment-parity.md:
//
//	go test ./internal/parity -run TestSegmentParity -count=1 -update
func TestSegmentParity(t *testing.T) {
	tools := nodetool.Require(t, "run Segment's @segment/action-destinations as the parity oracle")
	oracleDir, err := filepath.Abs("oracle")
	if err != nil {
		t.Fatal(err)
	}
	tools.Install(t, oracleDir)

	golden, err := parity.LoadGolden(catalogDir)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := parity.LoadPeer(peerDir)
	if err != nil {
		t.Fatal(err)
	}
	shop, err := parity.LoadCorpusFile(corpusFile, "ecommerce")
	if err != nil {
		t.Fatal(err)
	}
	if len(golden) == 0 || len(peer) == 0 || len(shop) == 0 {
		t.Fatalf("corpus: %d golden, %d peer, %d e-commerce cases; want some of each", len(golden), len(peer), len(shop))
	}
	corpus := append(append(append([]parity.Case{}, golden...), peer...), shop...)

	files := parityFiles(t, oracleDir)
	if len(files) == 0 {
		t.Fatal("no destinations/catalog/*/parity.yaml")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var scores []*parity.ToolScore
	for _, tool := range slices.Sorted(maps.Keys(files)) {
		f := files[tool]
		s := compareTool(ctx, t, tools.Node, oracleDir, tool, f, corpus)
		scores = append(scores, s)
		for _, d := range s.Unadjudicated() {
			t.Errorf("%s: %s: %s differs (%s): ours %s, Segment %s; adjudicate it in destinations/catalog/%s/parity.yaml or fix it",
				tool, d.Case, d.Field, d.How, d.Ours, d.Segment, tool)
		}
		for _, st := range s.Stale {
			t.Error(st)
		}
		if s.After() < minAfter {
			t.Errorf("%s: %.1f%% key-field agreement after adjudication, under %.0f%%", tool, s.After(), minAfter)
		}
		shop, _ := s.SourceBefore("ecommerce")
		t.Logf("%s: %d cases, agreement %.1f%% before adjudication (%.1f%% on the e-commerce corpus, %.1f%% where both send), %.1f%% after; %d unadjudicated",
			tool, s.Cases-s.Invalid, s.Before(), shop, s.BothBefore(), s.After(), len(s.Unadjudicated()))
	}
	md := parity.Markdown(header, scores)
	if *update {
		if err := os.WriteFile(reportPath, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parityFiles reads every tool's parity.yaml, and checks that each catalog
// tool without one has no destination of its name in Segment's package.
func parityFiles(t *testing.T, oracleDir string) map[string]*parity.File {
	t.Helper()
	out := map[string]*parity.File{}
	segmentDests := filepath.Join(oracleDir, "node_modules", "@segment", "action-destinations", "dist", "destinations")
	// A definition that does not load would drop its tool from the
	// comparison without a word: it fails the test instead.
	if _, err := destinations.Catalog(); err != nil {
		t.Fatalf("the catalog does not load: %v", err)
	}
	paths, err := filepath.Glob(filepath.Join(catalogDir, "*", "parity.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, ok := destinations.Lookup(filepath.Base(filepath.Dir(p))); !ok {
			t.Errorf("%s: no catalog tool of that name", p)
		}
	}
	for _, tool := range destinations.Tools() {
		path := filepath.Join(catalogDir, tool, "parity.yaml")
		if _, err := os.Stat(path); os.IsNotExist(err) {
			if _, err := os.Stat(filepath.Join(segmentDests, tool)); err == nil {
				t.Errorf("%s: Segment defines a %q destination, but destinations/catalog/%s has no parity.yaml", tool, tool, tool)
			}
			continue
		}
		f, err := parity.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := os.Stat(filepath.Join(segmentDests, f.Segment.Destination)); err != nil {
			t.Errorf("%s: segment.destination %q is not in @segment/action-destinations", path, f.Segment.Destination)
			continue
		}
		out[tool] = f
	}
	return out
}

// compareTool runs the tool's cases through both sides and scores them.
func compareTool(ctx context.Context, t *testing.T, node, oracleDir, tool string, f *parity.File, corpus []parity.Case) *parity.ToolScore {
	t.Helper()
	s := &parity.ToolScore{Tool: tool, Destination: f.Segment.Destination, Why: f.Segment.Why, KnownDefects: f.KnownDefects}
	render := ours(t, tool, f)
	type prepared struct {
		c parity.Case
		p parity.Prepared
	}
	var cases []prepared
	var oracleCases []parity.OracleCase
	for _, c := range corpus {
		if c.Tool != "" && c.Tool != tool {
			continue
		}
		p, err := parity.Prepare(c)
		if err != nil {
			t.Fatal(err)
		}
		if p.Invalid != "" {
			s.Invalid++
			continue
		}
		cases = append(cases, prepared{c, p})
		oracleCases = append(oracleCases, parity.OracleCase{ID: c.ID, Event: p.Delivered})
	}
	s.Cases = s.Invalid // and Add counts each compared one
	results, err := parity.RunOracle(ctx, node, oracleDir, []parity.OracleTool{{
		Tool: tool, Destination: f.Segment.Destination, Settings: f.Segment.Settings, Subscriptions: f.Segment.Subscriptions,
		ReturnedURL: f.Segment.ReturnedURL,
	}}, oracleCases)
	if err != nil {
		t.Fatal(err)
	}
	// PARITY_DUMP=dir writes both sides' requests per case to dir/<tool>.json,
	// for whoever adjudicates a difference.
	var dump []map[string]any
	for _, pc := range cases {
		o := parity.Outcome{Case: pc.c.ID}
		o.Ours, o.OursReason = render(pc.p.Raw, pc.p.Receipt)
		r := results[tool][pc.c.ID]
		o.Segment = r.Requests()
		switch {
		case strings.HasPrefix(o.OursReason, integrationsOff):
			// Segment's pipeline honours the integrations object before
			// any destination runs: the event never reaches the action.
			o.Segment, r.Actions = nil, nil
			o.SegmentReason = "filtered by Segment's pipeline: the integrations object turns the destination off"
		case len(r.Errors()) > 0:
			// Said even when an action made requests first (a lookup), or
			// another action succeeded: the report shows why a field is
			// missing.
			o.SegmentReason = "fails: " + strings.Join(r.Errors(), "; ")
			o.SegmentFailed = len(r.Errors()) == len(r.Actions)
		case len(o.Segment) > 0:
		case len(r.Actions) == 0:
			o.SegmentReason = "no subscription takes it"
		}
		s.Add(o, f)
		f.CheckKnownDefect(o.Case, o.OursReason)
		dump = append(dump, map[string]any{"case": o.Case, "ours": o.Ours, "ours_reason": o.OursReason, "segment": r.Actions, "segment_reason": o.SegmentReason})
	}
	s.Stale = f.Stale()
	if dir := os.Getenv("PARITY_DUMP"); dir != "" {
		data, _ := json.MarshalIndent(dump, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, tool+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// integrationsOff opens switchyard's reason for an event whose
// integrations object turns the destination off.
const integrationsOff = "filtered: the event's integrations object"

// reason says why switchyard sent nothing, in one line.
func reason(outcome, invalid, why string, failures []string) string {
	switch {
	case invalid != "":
		return "invalid: " + invalid
	case len(failures) > 0:
		return "fails: " + strings.Join(failures, "; ")
	case why != "":
		return outcome + ": " + why
	}
	return outcome
}
