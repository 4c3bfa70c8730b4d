package parity

import (
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/peercorpus"
)

// Outcome is what both sides made of one case for one tool.
type Outcome struct {
	Case string
	// Ours and Segment are the requests of either side.
	Ours, Segment []peercorpus.Request
	// OursReason and SegmentReason say why a side sent nothing (a
	// refusal, a failed action, no subscription for the event).
	OursReason, SegmentReason string
	// SegmentFailed says every Segment action that ran failed: the case is
	// Segment's refusal even if an action made a request before failing (a
	// lookup, such as Intercom's contact search).
	SegmentFailed bool
}

// Difference is one key field of one case on which the sides differ.
type Difference struct {
	Case, Field, How string
	Ours, Segment    string
	// Adjudication explains it; nil when nobody has.
	Adjudication *Adjudication
}

// ToolScore tallies a tool's comparison.
type ToolScore struct {
	Tool, Destination string
	// Why explains how Segment's side is set up, when parity.yaml says.
	Why string
	// KnownDefects are listed in the report as they are.
	KnownDefects []*KnownDefect
	Cases        int
	// Invalid cases are refused by the intake and reach neither side.
	Invalid int
	// Rendered by either or both sides.
	Both, OursOnly, SegmentOnly, Neither int
	// Compared counts (case, field) pairs either side sent; Agree those
	// where both sent the same value.
	Compared, Agree int
	// BothSent tallies the pairs of the cases both sides send a request
	// for: the key-field agreement without refusals, where one side sends
	// nothing for the case (it refuses or fails the event, or no
	// subscription takes it), which Both/OursOnly/SegmentOnly count once
	// per case.
	BothSent Tally
	// Sources tallies Compared and Agree per corpus ("golden", "peer",
	// "ecommerce"): the first part of the case id.
	Sources     map[string]*Tally
	Differences []Difference
	// Stale are adjudications that matched nothing.
	Stale []string
}

// Tally counts compared and agreeing (case, field) pairs.
type Tally struct{ Compared, Agree int }

// SourceBefore is the agreement before adjudication on one corpus.
func (s *ToolScore) SourceBefore(source string) (float64, bool) {
	t := s.Sources[source]
	if t == nil || t.Compared == 0 {
		return 0, false
	}
	return pct(t.Agree, t.Compared), true
}

// Add compares one outcome, field by field, and adjudicates each
// difference with f.
func (s *ToolScore) Add(o Outcome, f *File) {
	s.Cases++
	ours, seg := len(o.Ours) > 0, len(o.Segment) > 0 && !o.SegmentFailed
	switch {
	case ours && seg:
		s.Both++
	case ours:
		s.OursOnly++
	case seg:
		s.SegmentOnly++
	default:
		s.Neither++
	}
	if s.Sources == nil {
		s.Sources = map[string]*Tally{}
	}
	source, _, _ := strings.Cut(o.Case, "/")
	src := s.Sources[source]
	if src == nil {
		src = &Tally{}
		s.Sources[source] = src
	}
	a, b := peercorpus.Extract(s.Tool, o.Ours), peercorpus.Extract(s.Tool, o.Segment)
	for i, ag := range peercorpus.Compare(a, b) {
		if ag == peercorpus.Neither {
			continue
		}
		s.Compared++
		src.Compared++
		if ours && seg {
			s.BothSent.Compared++
		}
		if ag == peercorpus.Agree {
			s.Agree++
			src.Agree++
			if ours && seg {
				s.BothSent.Agree++
			}
			continue
		}
		d := Difference{Case: o.Case, Field: peercorpus.FieldNames[i], Ours: a.Show(i), Segment: b.Show(i)}
		switch ag {
		case peercorpus.Differ:
			d.How = HowDiffer
		case peercorpus.OursOnly:
			d.How = HowOursOnly
			d.Segment = "(none: " + orNothing(o.SegmentReason) + ")"
		case peercorpus.PeerOnly:
			d.How = HowSegmentOnly
			d.Ours = "(none: " + orNothing(o.OursReason) + ")"
		}
		if adj := f.Match(d.Case, d.Field, d.How); adj != nil {
			adj.Matched++
			d.Adjudication = adj
		}
		s.Differences = append(s.Differences, d)
	}
}

func orNothing(s string) string {
	if s == "" {
		return "sent nothing"
	}
	return s
}

// Accepted counts the differences adjudicated as Segment quirks or
// conventions: switchyard's form stands.
func (s *ToolScore) Accepted() int {
	n := 0
	for _, d := range s.Differences {
		if d.Adjudication != nil && d.Adjudication.Kind != Defect {
			n++
		}
	}
	return n
}

// Unadjudicated lists the differences nobody has explained.
func (s *ToolScore) Unadjudicated() []Difference {
	var out []Difference
	for _, d := range s.Differences {
		if d.Adjudication == nil {
			out = append(out, d)
		}
	}
	return out
}

// Defects counts the differences adjudicated as defects (fixed elsewhere).
func (s *ToolScore) Defects() int {
	n := 0
	for _, d := range s.Differences {
		if d.Adjudication != nil && d.Adjudication.Kind == Defect {
			n++
		}
	}
	return n
}

// BothBefore is the agreement before adjudication on the cases both sides
// send: refusals left out.
func (s *ToolScore) BothBefore() float64 { return pct(s.BothSent.Agree, s.BothSent.Compared) }

// Before is the key-field agreement, in percent, before adjudication.
func (s *ToolScore) Before() float64 { return pct(s.Agree, s.Compared) }

// After is the agreement counting accepted differences as agreement.
func (s *ToolScore) After() float64 { return pct(s.Agree+s.Accepted(), s.Compared) }

func pct(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}

// Markdown renders docs/segment-parity.md from the scores, in order.
func Markdown(header string, scores []*ToolScore) string {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("\n## Summary\n\n| tool | Segment destination | cases | rendered by both / ours only / Segment only / neither | fields compared | agreement before adjudication | before, per corpus: golden / peer / e-commerce | before, where both send | after adjudication | quirks + conventions | defects (fixed elsewhere) | unadjudicated |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range scores {
		var per []string
		for _, src := range []string{"golden", "peer", "ecommerce"} {
			if p, ok := s.SourceBefore(src); ok {
				per = append(per, fmt.Sprintf("%.1f%%", p))
			} else {
				per = append(per, "–")
			}
		}
		before, after := fmt.Sprintf("%.1f%%", s.Before()), fmt.Sprintf("%.1f%%", s.After())
		if s.Compared == 0 {
			before, after = "no key field", "no key field"
		}
		both := fmt.Sprintf("%.1f%% (%d of %d)", s.BothBefore(), s.BothSent.Agree, s.BothSent.Compared)
		if s.BothSent.Compared == 0 {
			both = "no key field"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d / %d / %d / %d | %d | %s | %s | %s | %s | %d | %d | %d |\n",
			s.Tool, s.Destination, s.Cases-s.Invalid, s.Both, s.OursOnly, s.SegmentOnly, s.Neither, s.Compared,
			before, strings.Join(per, " / "), both, after, s.Accepted(), s.Defects(), len(s.Unadjudicated()))
	}
	for _, s := range scores {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Tool)
		fmt.Fprintf(&b, "Compared with Segment's `%s`. %d cases", s.Destination, s.Cases-s.Invalid)
		if s.Invalid > 0 {
			fmt.Fprintf(&b, " (and %d refused by the intake, compared on neither side)", s.Invalid)
		}
		fmt.Fprintf(&b, "; %d (case, field) pairs sent by either side, %d equal.\n", s.Compared, s.Agree)
		if s.Why != "" {
			fmt.Fprintf(&b, "\n%s\n", strings.Join(strings.Fields(s.Why), " "))
		}
		if len(s.KnownDefects) > 0 {
			b.WriteString("\nKnown defects, where no key field differs because Segment sends nothing either:\n\n")
			for _, k := range s.KnownDefects {
				fmt.Fprintf(&b, "- `%s` (switchyard: %q): %s Fixed by: %s.\n", k.Case, k.OursReason, strings.Join(strings.Fields(k.Why), " "), k.FixedBy)
			}
		}
		if len(s.Differences) == 0 {
			b.WriteString("\nNo difference.\n")
			continue
		}
		b.WriteString("\n| field | kind | differences | why | cases (ours → Segment) |\n| --- | --- | --- | --- | --- |\n")
		groups := map[*Adjudication][]Difference{}
		var order []*Adjudication
		for _, d := range s.Differences {
			if d.Adjudication == nil {
				continue
			}
			if groups[d.Adjudication] == nil {
				order = append(order, d.Adjudication)
			}
			groups[d.Adjudication] = append(groups[d.Adjudication], d)
		}
		sort.SliceStable(order, func(i, j int) bool { return order[i].line < order[j].line })
		for _, a := range order {
			why := cellN(a.Why, 1000)
			if a.Doc != "" {
				why += " ([doc](" + a.Doc + "))"
			}
			if a.FixedBy != "" {
				why += " Fixed by: " + cell(a.FixedBy) + "."
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", strings.Join(a.Fields, ", "), a.Kind, len(groups[a]), why, examples(groups[a]))
		}
		for _, d := range s.Unadjudicated() {
			fmt.Fprintf(&b, "| %s | **unadjudicated** | 1 | | %s |\n", d.Field, examples([]Difference{d}))
		}
	}
	return b.String()
}

// maxExamples bounds the cases listed per adjudication.
const maxExamples = 4

func examples(ds []Difference) string {
	var out []string
	for i, d := range ds {
		if i == maxExamples {
			out = append(out, fmt.Sprintf("and %d more", len(ds)-maxExamples))
			break
		}
		out = append(out, fmt.Sprintf("`%s` %s: %s → %s", d.Case, d.Field, cell(quote(d.Ours)), cell(quote(d.Segment))))
	}
	return strings.Join(out, "; ")
}

func quote(s string) string {
	if strings.HasPrefix(s, "(none") {
		return s
	}
	return fmt.Sprintf("%q", s)
}

func cell(s string) string { return cellN(s, 160) }

// cellN is s on one table cell line, cut to n characters.
func cellN(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
