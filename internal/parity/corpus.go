// Package parity measures how closely the catalog's presets send what
// Segment's own destinations would send for the same event.
//
// Segment's destination definitions (@segment/action-destinations, MIT)
// run in Node, in the oracle/ folder, outside the Go build, with every
// request intercepted at actions-core's fetch. The same corpus of events
// (the catalog's golden cases, the peer corpus, and an e-commerce corpus
// written for this package) goes through switchyard's preview. Both sides'
// requests are reduced to the key fields (peercorpus.Extract) and compared
// field by field; every difference must be adjudicated in the tool's
// destinations/catalog/<tool>/parity.yaml, as a Segment quirk, a
// convention or a defect. The test in parity_test.go runs it all and
// writes docs/segment-parity.md.
package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/peercorpus"
	"github.com/switchyard/switchyard/mappings"
)

// Case is one event of the corpus.
type Case struct {
	// ID is stable across runs: it keys adjudications.
	// "golden/<tool>/<case>", "peer/<file>#<n>", "ecommerce/<name>".
	ID string
	// Tool limits the case to one tool's comparison; "" is every tool's.
	Tool        string
	Description string
	// Event is the event as sent to switchyard, decoded with json.Number.
	Event map[string]any
}

// FixedNow is the receipt time of events that carry no time at all.
var FixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// LoadGolden reads every golden case of the catalog in dir
// (destinations/catalog): <tool>/testdata/<case>/event.json.
func LoadGolden(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "testdata", "*", "event.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Case
	for _, p := range paths {
		caseDir := filepath.Dir(p)
		tool := filepath.Base(filepath.Dir(filepath.Dir(caseDir)))
		ev, err := readEvent(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Case{ID: "golden/" + tool + "/" + filepath.Base(caseDir), Tool: tool, Event: ev})
	}
	return out, nil
}

// LoadPeer reads the peer corpus in dir with peercorpus.Load.
func LoadPeer(dir string) ([]Case, error) {
	cases, err := peercorpus.Load(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		if c.Event == nil {
			continue // an input without a message: nothing to send
		}
		out = append(out, Case{ID: "peer/" + c.Source, Tool: c.Tool, Description: c.Description, Event: c.Event})
	}
	return out, nil
}

// LoadCorpusFile reads a list of {id, description, event} from path; the
// cases are every tool's, with ids prefix + "/" + id.
func LoadCorpusFile(path, prefix string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var list []struct {
		ID          string         `json:"id"`
		Description string         `json:"description"`
		Event       map[string]any `json:"event"`
	}
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	out := make([]Case, 0, len(list))
	for i, c := range list {
		if c.ID == "" || c.Event == nil || c.Description == "" {
			return nil, fmt.Errorf("%s: case %d: id, description and event are required", path, i)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("%s: case %d: id %q used twice", path, i, c.ID)
		}
		seen[c.ID] = true
		out = append(out, Case{ID: prefix + "/" + c.ID, Description: c.Description, Event: c.Event})
	}
	return out, nil
}

func readEvent(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ev, nil
}

// Prepared is a case made ready for both sides.
type Prepared struct {
	// Raw is what switchyard receives: the event, with a messageId when it
	// had none (as switchyard's collector and Segment's intake give one).
	Raw []byte
	// Receipt is when the event is taken to reach switchyard (the stream
	// time): sentAt, as if the network took no time, else the event's own
	// time, else FixedNow.
	Receipt time.Time
	// Delivered is the event as Segment's pipeline hands it to a
	// destination: timestamp corrected for clock skew (the same correction
	// switchyard applies, so that both sides see one time), receivedAt set
	// to that timestamp, ids as strings.
	Delivered map[string]any
	// Invalid is why switchyard's intake refuses the event; such a case
	// reaches neither side's destinations and is not compared.
	Invalid string
}

// Prepare makes a case ready for both sides.
func Prepare(c Case) (Prepared, error) {
	ev := map[string]any{}
	for k, v := range c.Event {
		ev[k] = v
	}
	if id, _ := ev["messageId"].(string); strings.TrimSpace(id) == "" {
		if _, isNum := ev["messageId"].(json.Number); !isNum {
			ev["messageId"] = "parity-" + strings.NewReplacer("/", "-", ".json#", "-", "#", "-", "_", "-").Replace(c.ID)
		}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return Prepared{}, fmt.Errorf("%s: %w", c.ID, err)
	}
	p := Prepared{Raw: raw, Receipt: receipt(ev)}
	decoded, err := mappings.Decode(raw, p.Receipt, mappings.Limits{})
	if err != nil {
		p.Invalid = err.Error()
		return p, nil
	}
	// Decode again to get a copy Delivered may change without touching
	// what switchyard is given.
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return Prepared{}, fmt.Errorf("%s: %w", c.ID, err)
	}
	for _, f := range []string{"userId", "anonymousId", "groupId", "previousId"} {
		if v, ok := decoded.Raw[f].(string); ok {
			d[f] = v
		}
	}
	ts := decoded.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z")
	d["timestamp"] = ts
	d["receivedAt"] = ts
	p.Delivered = d
	return p, nil
}

// receipt follows internal/peercorpus: the corpus has no receivedAt, so
// sentAt stands for it (no network delay), which keeps the client's time
// through skew correction.
func receipt(ev map[string]any) time.Time {
	for _, f := range []string{"sentAt", "receivedAt", "timestamp", "originalTimestamp"} {
		if t, ok := mappings.ParseTime(ev[f]); ok {
			return t
		}
	}
	return FixedNow
}
