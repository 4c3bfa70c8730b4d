package peercorpus

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Outcome is what switchyard made of one case.
type Outcome struct {
	Case     *Case
	Rendered bool
	// Reason says why nothing was rendered (invalid, filtered, unmatched,
	// or every matching action failed).
	Reason string
	// Crash is a recovered panic; there must be none.
	Crash string
	// ContractErrors are rendered requests that fail their preset's
	// contract; there must be none.
	ContractErrors []string
	Requests       []Request
	// MessageIDAssigned is set when the input had no messageId and the
	// harness gave it one, as switchyard's collector does.
	MessageIDAssigned bool
}

// ToolReport tallies a tool's cases.
type ToolReport struct {
	Tool    string
	Present bool // the tool has a catalog definition
	Cases   int
	// Rendered: switchyard produced at least one request; PeerRendered: the
	// peer did; Both: both did.
	Rendered, PeerRendered, Both int
	// Comparable: both rendered and the peer's requests belong to this
	// input alone (not a router batch).
	Comparable     int
	Rejected       int
	Crashes        []string
	ContractErrors []string
	Reasons        map[string]int
	Assigned       int // inputs without a messageId, given one
	Fields         []FieldTally
	Placeholders   map[string]int // settings the peer configs lacked
}

// FieldTally counts one field over a tool's comparable cases.
type FieldTally struct {
	Agree, Differ, OursOnly, PeerOnly int
	Examples                          []string // a few disagreements, for the reader
}

// NewToolReport starts a tool's tally.
func NewToolReport(tool string, present bool) *ToolReport {
	return &ToolReport{Tool: tool, Present: present, Reasons: map[string]int{}, Fields: make([]FieldTally, len(FieldNames)), Placeholders: map[string]int{}}
}

const maxExamples = 3

// Add counts one outcome.
func (r *ToolReport) Add(o Outcome) {
	r.Cases++
	if o.MessageIDAssigned {
		r.Assigned++
	}
	if o.Crash != "" {
		r.Crashes = append(r.Crashes, o.Case.Source+": "+o.Crash)
		return
	}
	for _, e := range o.ContractErrors {
		r.ContractErrors = append(r.ContractErrors, o.Case.Source+": "+e)
	}
	peer := o.Case.Peer.Rendered()
	if peer {
		r.PeerRendered++
	}
	if !o.Rendered {
		r.Rejected++
		r.Reasons[NormaliseReason(o.Reason)]++
		return
	}
	r.Rendered++
	if !peer {
		return
	}
	r.Both++
	if o.Case.Peer.Batched {
		return
	}
	r.Comparable++
	ours, theirs := Extract(r.Tool, o.Requests), Extract(r.Tool, o.Case.Peer.Requests)
	for i, a := range Compare(ours, theirs) {
		t := &r.Fields[i]
		switch a {
		case Agree:
			t.Agree++
		case Differ:
			t.Differ++
			if len(t.Examples) < maxExamples {
				t.Examples = append(t.Examples, fmt.Sprintf("%s: ours %q, peer %q", o.Case.Source, ours.Show(i), theirs.Show(i)))
			}
		case OursOnly:
			t.OursOnly++
		case PeerOnly:
			t.PeerOnly++
			if len(t.Examples) < maxExamples {
				t.Examples = append(t.Examples, fmt.Sprintf("%s: ours absent, peer %q", o.Case.Source, theirs.Show(i)))
			}
		}
	}
}

var (
	exprSource = regexp.MustCompile(` \(at \d+:\d+ of ".*$`)
	itemPrefix = regexp.MustCompile(`\bitem \d+: `)
	eventID    = regexp.MustCompile(`\bevent \S+: (field )`)
)

// NormaliseReason shortens a rejection reason to its kind, so that the
// report can count them: the expression source and event ids are cut.
func NormaliseReason(s string) string {
	s = exprSource.ReplaceAllString(s, "")
	s = itemPrefix.ReplaceAllString(s, "")
	s = eventID.ReplaceAllString(s, "$1")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// Report is the whole corpus's tally.
type Report struct {
	Tools []*ToolReport
	// Notes explain deliberate disagreements: tool → field → note.
	Notes map[string]map[string]string
}

// Markdown renders docs/peer-report.md.
func (rep *Report) Markdown(header string) string {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("\n## Summary\n\n| tool | cases | rendered (ours) | rendered (peer) | both | compared | rejected | crashes | contract failures |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range rep.Tools {
		if !t.Present {
			fmt.Fprintf(&b, "| %s | %d | not in the catalog yet | %d | | | | | |\n", t.Tool, t.Cases, t.PeerRendered)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", t.Tool, t.Cases, t.Rendered, t.PeerRendered, t.Both, t.Comparable, t.Rejected, len(t.Crashes), len(t.ContractErrors))
	}
	for _, t := range rep.Tools {
		if !t.Present {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", t.Tool)
		fmt.Fprintf(&b, "%d cases: %d rendered by switchyard, %d by the peer, %d by both.", t.Cases, t.Rendered, t.PeerRendered, t.Both)
		if t.Comparable < t.Both {
			fmt.Fprintf(&b, " %d of those are compared field by field; the peer sent the other %d in router batches mixing several inputs.", t.Comparable, t.Both-t.Comparable)
		}
		fmt.Fprintf(&b, " %d rejected by switchyard.", t.Rejected)
		if t.Assigned > 0 {
			fmt.Fprintf(&b, " %d inputs had no messageId and were given one, as switchyard's collector does.", t.Assigned)
		}
		if len(t.Placeholders) > 0 {
			var ps []string
			for _, k := range slices.Sorted(maps.Keys(t.Placeholders)) {
				ps = append(ps, fmt.Sprintf("`%s` (%d)", k, t.Placeholders[k]))
			}
			fmt.Fprintf(&b, " Required settings absent from the peer configs were filled with placeholders: %s.", strings.Join(ps, ", "))
		}
		b.WriteString("\n\n| field | agree / both sent | only ours | only peer | notes |\n| --- | --- | --- | --- | --- |\n")
		for i, name := range FieldNames {
			f := t.Fields[i]
			both := f.Agree + f.Differ
			note := rep.Notes[t.Tool][name]
			if f.Differ == 0 && f.PeerOnly == 0 && note != "" && !strings.HasPrefix(note, "always:") {
				note = ""
			}
			note = strings.TrimPrefix(note, "always:")
			fmt.Fprintf(&b, "| %s | %d/%d | %d | %d | %s |\n", name, f.Agree, both, f.OursOnly, f.PeerOnly, note)
		}
		if len(t.Reasons) > 0 {
			b.WriteString("\nRejected by switchyard, by reason:\n\n| count | reason |\n| --- | --- |\n")
			type kv struct {
				k string
				n int
			}
			var rs []kv
			for k, n := range t.Reasons {
				rs = append(rs, kv{k, n})
			}
			sort.Slice(rs, func(i, j int) bool {
				if rs[i].n != rs[j].n {
					return rs[i].n > rs[j].n
				}
				return rs[i].k < rs[j].k
			})
			for _, r := range rs {
				fmt.Fprintf(&b, "| %d | %s |\n", r.n, strings.ReplaceAll(strings.ReplaceAll(r.k, "|", `\|`), "\n", " "))
			}
		}
		var ex []string
		for i, name := range FieldNames {
			for _, e := range t.Fields[i].Examples {
				ex = append(ex, fmt.Sprintf("- %s: %s", name, e))
			}
		}
		if len(ex) > 0 {
			b.WriteString("\n<details><summary>Examples of disagreement</summary>\n\n")
			b.WriteString(strings.Join(ex, "\n"))
			b.WriteString("\n\n</details>\n")
		}
		for _, c := range t.Crashes {
			fmt.Fprintf(&b, "\nCRASH %s\n", c)
		}
		for _, c := range t.ContractErrors {
			fmt.Fprintf(&b, "\nCONTRACT FAILURE %s\n", c)
		}
	}
	return b.String()
}
