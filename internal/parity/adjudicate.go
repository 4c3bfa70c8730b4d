package parity

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/internal/peercorpus"
)

// File is a tool's parity.yaml, next to its definition.yaml: how Segment's
// side is run, and the adjudication of every difference.
type File struct {
	// Segment says which of Segment's destinations the tool is compared
	// with, and how it is set up.
	Segment struct {
		Destination string         `yaml:"destination"`
		Settings    map[string]any `yaml:"settings"`
		// Subscriptions replace the definition's automatic presets; a
		// definition without presets (GA4, Klaviyo) needs them.
		Subscriptions []Subscription `yaml:"subscriptions"`
		// ReturnedURL: the destination's actions return their payload, which
		// Segment's pipeline posts here (see OracleTool.ReturnedURL).
		ReturnedURL string `yaml:"returned_url"`
		// Why explains the set-up when it is not the definition's own.
		Why string `yaml:"why"`
	} `yaml:"segment"`
	// Ours says how switchyard's side is set up: its presets (the default
	// ones when empty) and settings (required ones get placeholders).
	Ours struct {
		Presets  []string       `yaml:"presets"`
		Settings map[string]any `yaml:"settings"`
	} `yaml:"ours"`
	Differences []*Adjudication `yaml:"differences"`
	// KnownDefects are switchyard defects the comparison cannot score
	// (Segment sends nothing either), each fixed elsewhere: listed in the
	// report until the case no longer shows it.
	KnownDefects []*KnownDefect `yaml:"known_defects"`
	path         string
}

// KnownDefect is a case where switchyard is wrong although no key field
// differs.
type KnownDefect struct {
	Case string `yaml:"case"`
	// OursReason is a part of switchyard's reason that shows the defect.
	OursReason string `yaml:"ours_reason"`
	Why        string `yaml:"why"`
	FixedBy    string `yaml:"fixed_by"`
	// Seen is set when the run still shows the defect.
	Seen bool `yaml:"-"`
}

// CheckKnownDefect marks the known defects of a case that its outcome
// still shows.
func (f *File) CheckKnownDefect(caseID, oursReason string) {
	for _, k := range f.KnownDefects {
		if k.Case == caseID && strings.Contains(oursReason, k.OursReason) {
			k.Seen = true
		}
	}
}

// The kinds of adjudication.
const (
	// SegmentQuirk: Segment's form is wrong or worse for the tool, and the
	// tool's own documentation (Doc) backs switchyard's.
	SegmentQuirk = "segment-quirk"
	// Convention: the tool accepts both forms.
	Convention = "convention"
	// Defect: switchyard's form is wrong. A defect is fixed, not listed;
	// one fixed elsewhere names who fixes it (FixedBy) until then.
	Defect = "defect"
)

// Adjudication explains one class of difference: a field, the cases it
// holds for, and why.
type Adjudication struct {
	// Field, or Fields for one reason that holds for several.
	Field  string   `yaml:"field"`
	Fields []string `yaml:"fields"`
	// Cases are case ids; '*' matches any run of characters.
	Cases []string `yaml:"cases"`
	// How narrows the entry to one kind of difference: differ, ours-only
	// or segment-only. Empty matches all three.
	How     string `yaml:"how"`
	Kind    string `yaml:"kind"`
	Why     string `yaml:"why"`
	Doc     string `yaml:"doc"`
	FixedBy string `yaml:"fixed_by"`

	line     int
	patterns []*regexp.Regexp
	// Matched counts the differences this entry explains in a run.
	Matched int `yaml:"-"`
}

// The kinds of difference, for How.
const (
	HowDiffer      = "differ"
	HowOursOnly    = "ours-only"
	HowSegmentOnly = "segment-only"
)

// ReadFile reads and checks a parity.yaml. Every problem is reported,
// each with the file and line.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.path = path
	var node yaml.Node
	_ = yaml.Unmarshal(data, &node)
	lines := differenceLines(&node)
	var errs []error
	bad := func(i int, format string, args ...any) {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		errs = append(errs, fmt.Errorf("%s:%d: differences[%d]: %s", path, line, i, fmt.Sprintf(format, args...)))
	}
	if f.Segment.Destination == "" {
		errs = append(errs, fmt.Errorf("%s: segment.destination is required", path))
	}
	for i, k := range f.KnownDefects {
		if k.Case == "" || k.OursReason == "" || strings.TrimSpace(k.Why) == "" || k.FixedBy == "" {
			errs = append(errs, fmt.Errorf("%s: known_defects[%d]: case, ours_reason, why and fixed_by are required", path, i))
		}
	}
	for i, a := range f.Differences {
		if i < len(lines) {
			a.line = lines[i]
		}
		if a.Field != "" {
			a.Fields = append([]string{a.Field}, a.Fields...)
		}
		if len(a.Fields) == 0 {
			bad(i, "field or fields: the key fields the entry explains")
		}
		for _, name := range a.Fields {
			if !knownField(name) {
				bad(i, "field %q is none of %s", name, strings.Join(peercorpus.FieldNames, ", "))
			}
		}
		if len(a.Cases) == 0 {
			bad(i, "cases: at least one case id or pattern")
		}
		for _, c := range a.Cases {
			a.patterns = append(a.patterns, glob(c))
		}
		switch a.How {
		case "", HowDiffer, HowOursOnly, HowSegmentOnly:
		default:
			bad(i, "how %q is none of differ, ours-only, segment-only", a.How)
		}
		if strings.TrimSpace(a.Why) == "" {
			bad(i, "why: say why the difference is what it is")
		}
		switch a.Kind {
		case SegmentQuirk:
			if !strings.HasPrefix(a.Doc, "https://") {
				bad(i, "a segment-quirk needs doc: the tool's own documentation (https://...) backing switchyard's form")
			}
		case Convention:
		case Defect:
			if a.FixedBy == "" {
				bad(i, "a defect is fixed, not listed: fix it, or name who fixes it in fixed_by")
			}
		default:
			bad(i, "kind %q is none of segment-quirk, convention, defect", a.Kind)
		}
	}
	return &f, errors.Join(errs...)
}

func differenceLines(doc *yaml.Node) []int {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "differences" {
			continue
		}
		var out []int
		for _, n := range m.Content[i+1].Content {
			out = append(out, n.Line)
		}
		return out
	}
	return nil
}

func knownField(name string) bool {
	for _, n := range peercorpus.FieldNames {
		if n == name {
			return true
		}
	}
	return false
}

// glob compiles a case pattern: '*' matches any run of characters, '/'
// and '#' included; everything else is literal.
func glob(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// Match returns the first adjudication explaining a difference, or nil.
func (f *File) Match(caseID, field, how string) *Adjudication {
	if f == nil {
		return nil
	}
	for _, a := range f.Differences {
		if !slices.Contains(a.Fields, field) || (a.How != "" && a.How != how) {
			continue
		}
		for _, p := range a.patterns {
			if p.MatchString(caseID) {
				return a
			}
		}
	}
	return nil
}

// Stale lists the entries that explained nothing in the run: a fixed
// defect, or a difference that went away, must leave the file.
func (f *File) Stale() []string {
	var out []string
	for i, k := range f.KnownDefects {
		if !k.Seen {
			out = append(out, fmt.Sprintf("%s: known_defects[%d] (%s): switchyard's reason no longer says %q: the defect is fixed, remove it", f.path, i, k.Case, k.OursReason))
		}
	}
	for i, a := range f.Differences {
		if a.Matched == 0 {
			out = append(out, fmt.Sprintf("%s:%d: differences[%d] (%s; %s) matches no difference any more: remove it", f.path, a.line, i, strings.Join(a.Fields, ", "), strings.Join(a.Cases, ", ")))
		}
	}
	return out
}
