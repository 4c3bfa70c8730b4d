package parity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/peercorpus"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parity.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every problem of a parity.yaml is reported, each with its line.
func TestReadFileReportsEveryProblemWithItsLine(t *testing.T) {
	p := writeFile(t, `segment:
  destination: braze
differences:
  - fields: [identity]
    cases: ["peer/*"]
    kind: segment-quirk
    why: no doc given
  - field: colour
    cases: [a]
    kind: convention
    why: unknown field
  - field: email
    cases: [b]
    kind: defect
    why: a defect nobody fixes
`)
	_, err := ReadFile(p)
	if err == nil {
		t.Fatal("a file with three bad entries was accepted")
	}
	for _, want := range []string{":4: differences[0]: a segment-quirk needs doc", `:8: differences[1]: field "colour"`, ":12: differences[2]: a defect is fixed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Entries match by case pattern, field and kind of difference; an entry
// that matched nothing is stale.
func TestMatchAndStale(t *testing.T) {
	p := writeFile(t, `segment:
  destination: braze
differences:
  - fields: [identity, email]
    how: ours-only
    cases: ["peer/braze_input.json#*", "ecommerce/identify"]
    kind: convention
    why: both accepted
  - field: time
    cases: [ecommerce/none]
    kind: convention
    why: matches nothing
`)
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Match("peer/braze_input.json#12", "email", HowOursOnly); a == nil {
		t.Error("a case under the pattern did not match")
	}
	if a := f.Match("peer/braze_input.json#12", "email", HowDiffer); a != nil {
		t.Error("an entry for ours-only matched a value difference")
	}
	if a := f.Match("peer/braze_router_input.json#1", "email", HowOursOnly); a != nil {
		t.Error("a case outside the pattern matched")
	}
	if a := f.Match("ecommerce/identify", "time", HowOursOnly); a != nil {
		t.Error("a field the entry does not list matched")
	}
	f.Differences[0].Matched = 1
	stale := f.Stale()
	if len(stale) != 1 || !strings.Contains(stale[0], ":9: differences[1]") {
		t.Errorf("stale %q, want the second entry only", stale)
	}
}

// Agreement before adjudication counts equal fields; after, it also counts
// the differences explained as quirks or conventions, not defects.
func TestScoreBeforeAndAfter(t *testing.T) {
	p := writeFile(t, `segment:
  destination: amplitude
differences:
  - field: dedupe id
    how: ours-only
    cases: ["*"]
    kind: segment-quirk
    why: Segment sends none
    doc: https://amplitude.com/docs/apis/analytics/http-v2
`)
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ours := []peercorpus.Request{{URL: "https://api2.amplitude.com/2/httpapi", Body: map[string]any{"events": []any{
		map[string]any{"user_id": "u1", "event_type": "Signed Up", "insert_id": "m1", "time": 1700000000000.0}}}}}
	seg := []peercorpus.Request{{URL: "https://api2.amplitude.com/2/httpapi", Body: map[string]any{"events": []any{
		map[string]any{"user_id": "u1", "event_type": "Signed Up", "time": 1700000000000.0}}}}}
	s := &ToolScore{Tool: "amplitude"}
	s.Add(Outcome{Case: "ecommerce/signed-up", Ours: ours, Segment: seg}, f)
	if s.Compared != 4 || s.Agree != 3 {
		t.Fatalf("compared %d, agree %d; want 4 and 3 (identity, event, time equal; dedupe id ours only)", s.Compared, s.Agree)
	}
	if s.Before() != 75 || s.After() != 100 || len(s.Unadjudicated()) != 0 {
		t.Errorf("before %.1f, after %.1f, unadjudicated %d; want 75, 100, 0", s.Before(), s.After(), len(s.Unadjudicated()))
	}
	if pct, ok := s.SourceBefore("ecommerce"); !ok || pct != 75 {
		t.Errorf("e-commerce corpus agreement %.1f (%v), want 75", pct, ok)
	}
}

// A case only one side sends is a refusal: its fields count in the headline
// agreement (as differences to adjudicate) but not in the agreement where
// both send, and the case is counted once as ours-only.
func TestRefusalsLeaveTheAgreementWhereBothSend(t *testing.T) {
	f, err := ReadFile(writeFile(t, "segment:\n  destination: amplitude\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev := func(insertID string) []peercorpus.Request {
		e := map[string]any{"user_id": "u1", "event_type": "Signed Up", "time": 1700000000000.0}
		if insertID != "" {
			e["insert_id"] = insertID
		}
		return []peercorpus.Request{{URL: "https://api2.amplitude.com/2/httpapi", Body: map[string]any{"events": []any{e}}}}
	}
	s := &ToolScore{Tool: "amplitude"}
	s.Add(Outcome{Case: "ecommerce/both", Ours: ev(""), Segment: ev("")}, f)
	s.Add(Outcome{Case: "ecommerce/refused", Ours: ev("m2"), SegmentReason: "fails: no"}, f)
	if s.Both != 1 || s.OursOnly != 1 {
		t.Fatalf("cases: %d both, %d ours only; want 1 and 1", s.Both, s.OursOnly)
	}
	if s.Compared != 7 || s.Agree != 3 || s.Before() != 100*3.0/7 {
		t.Errorf("headline: %d of %d; want 3 of 7 (the refused case's 4 fields are ours-only)", s.Agree, s.Compared)
	}
	if s.BothSent.Compared != 3 || s.BothSent.Agree != 3 || s.BothBefore() != 100 {
		t.Errorf("where both send: %d of %d, %.1f%%; want 3 of 3", s.BothSent.Agree, s.BothSent.Compared, s.BothBefore())
	}
	if len(s.Unadjudicated()) != 4 {
		t.Errorf("%d unadjudicated, want the refused case's 4 fields", len(s.Unadjudicated()))
	}
}
