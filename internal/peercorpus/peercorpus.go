// Package peercorpus runs the catalog's presets over the peer router's test
// corpus (testdata/rudder-transformer-2023, MIT, see its LICENSE.md) and
// compares what both routers make of the same events.
//
// The corpus is a second opinion, not a specification: each input is a real,
// often messy, Segment-style event with the peer's destination config, and
// each output is the HTTP request the peer would send, or its refusal. This
// package reads the corpus (Load), translates the peer's configs into
// switchyard settings (Settings), reduces the requests of either router to
// the fields that carry Segment semantics (Extract), and tallies the result
// per tool (Report). The test in report_test.go renders the inputs through
// the router's preview and writes docs/peer-report.md.
package peercorpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// PeerTools maps the corpus's file prefixes to switchyard destination types.
var PeerTools = map[string]string{
	"am":         "amplitude",
	"mp":         "mixpanel",
	"braze":      "braze",
	"customerio": "customerio",
	"mailchimp":  "mailchimp",
	"ga4":        "ga4",
	"iterable":   "iterable",
	"klaviyo":    "klaviyo",
	"one_signal": "onesignal",
	"sendgrid":   "sendgrid",
}

// Case is one input of the corpus.
type Case struct {
	// Tool is the switchyard destination type the input is rendered with.
	Tool string
	// Source locates the input: "am_input.json#3", "ga4.json#12",
	// "braze_router_input.json#simpleRouterRequests/2".
	Source      string
	Description string
	// Event is the peer input's message, decoded with json.Number so that
	// re-encoding keeps every digit.
	Event map[string]any
	// Config is the peer's destination.Config.
	Config map[string]any
	Peer   PeerOutcome
}

// PeerOutcome is what the peer made of a case.
type PeerOutcome struct {
	Requests []Request
	// Error is the peer's refusal, when it refused the input.
	Error string
	// Batched is set when the peer's request also carries other inputs (a
	// router batch): it rendered the input, but its fields cannot be
	// attributed to this one.
	Batched bool
}

// Rendered reports whether the peer produced at least one request.
func (p PeerOutcome) Rendered() bool { return len(p.Requests) > 0 }

// Request is one HTTP request of either router, reduced to what the
// extractors read. Body is decoded JSON: an object, or an array for tools
// taking arrays (the peer's JSON_ARRAY batch string is decoded).
type Request struct {
	Method string
	URL    string
	Body   any
}

// Load reads every case of the corpus in dir, in a stable order.
func Load(dir string) ([]Case, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, e := range entries {
		name := e.Name()
		var cases []Case
		switch {
		case strings.HasSuffix(name, "_router_input.json"):
			cases, err = loadRouter(dir, strings.TrimSuffix(name, "_router_input.json"))
		case strings.HasSuffix(name, "_input.json"):
			cases, err = loadPaired(dir, strings.TrimSuffix(name, "_input.json"))
		case strings.HasSuffix(name, ".json") && !strings.Contains(name, "_output") && !strings.Contains(name, "_router_"):
			cases, err = loadDescribed(dir, strings.TrimSuffix(name, ".json"))
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, cases...)
	}
	return out, nil
}

func readJSON(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return v, nil
}

func toolOf(prefix string) (string, error) {
	t, ok := PeerTools[prefix]
	if !ok {
		return "", fmt.Errorf("no switchyard tool for the peer's %q files", prefix)
	}
	return t, nil
}

// loadPaired reads <dest>_input.json and <dest>_output.json, paired by index.
func loadPaired(dir, prefix string) ([]Case, error) {
	tool, err := toolOf(prefix)
	if err != nil {
		return nil, err
	}
	in, err := readJSON(filepath.Join(dir, prefix+"_input.json"))
	if err != nil {
		return nil, err
	}
	outAny, err := readJSON(filepath.Join(dir, prefix+"_output.json"))
	if err != nil {
		return nil, err
	}
	inputs, _ := in.([]any)
	outputs, _ := outAny.([]any)
	if len(inputs) != len(outputs) {
		return nil, fmt.Errorf("%d inputs but %d outputs", len(inputs), len(outputs))
	}
	out := make([]Case, 0, len(inputs))
	for i := range inputs {
		c := newCase(tool, fmt.Sprintf("%s_input.json#%d", prefix, i), "", inputs[i])
		c.Peer = peerOutcome(outputs[i])
		out = append(out, c)
	}
	return out, nil
}

// loadDescribed reads <dest>.json: [{description, input, output}].
func loadDescribed(dir, prefix string) ([]Case, error) {
	tool, err := toolOf(prefix)
	if err != nil {
		return nil, err
	}
	v, err := readJSON(filepath.Join(dir, prefix+".json"))
	if err != nil {
		return nil, err
	}
	list, _ := v.([]any)
	out := make([]Case, 0, len(list))
	for i, e := range list {
		m, _ := e.(map[string]any)
		desc, _ := m["description"].(string)
		c := newCase(tool, fmt.Sprintf("%s.json#%d", prefix, i), desc, m["input"])
		c.Peer = peerOutcome(m["output"])
		out = append(out, c)
	}
	return out, nil
}

// loadRouter reads the router (batched) variants: a list of inputs, or an
// object of named lists ("simpleRouterRequests"), each paired with outputs
// by metadata.jobId ("simpleRouterResponse").
func loadRouter(dir, prefix string) ([]Case, error) {
	tool, err := toolOf(prefix)
	if err != nil {
		return nil, err
	}
	in, err := readJSON(filepath.Join(dir, prefix+"_router_input.json"))
	if err != nil {
		return nil, err
	}
	outAny, err := readJSON(filepath.Join(dir, prefix+"_router_output.json"))
	if err != nil {
		return nil, err
	}
	type group struct {
		name    string
		inputs  []any
		outputs []any
	}
	var groups []group
	switch x := in.(type) {
	case []any:
		outs, _ := outAny.([]any)
		groups = append(groups, group{"", x, outs})
	case map[string]any:
		outs, _ := outAny.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			list, _ := x[k].([]any)
			resp, _ := outs[strings.TrimSuffix(k, "Requests")+"Response"].([]any)
			groups = append(groups, group{k + "/", list, resp})
		}
	}
	var out []Case
	for _, g := range groups {
		for i, e := range g.inputs {
			c := newCase(tool, fmt.Sprintf("%s_router_input.json#%s%d", prefix, g.name, i), "", e)
			m, _ := e.(map[string]any)
			c.Peer = routerOutcome(jobID(m["metadata"]), g.outputs)
			out = append(out, c)
		}
	}
	return out, nil
}

func jobID(meta any) string {
	m, _ := meta.(map[string]any)
	return fmt.Sprint(m["jobId"])
}

// routerOutcome finds the router output holding job id.
func routerOutcome(id string, outputs []any) PeerOutcome {
	for _, o := range outputs {
		m, _ := o.(map[string]any)
		metas, _ := m["metadata"].([]any)
		for _, meta := range metas {
			if jobID(meta) != id {
				continue
			}
			p := peerOutcome(m)
			p.Batched = p.Rendered() && len(metas) > 1
			return p
		}
	}
	return PeerOutcome{Error: "no router output for this job"}
}

func newCase(tool, source, desc string, input any) Case {
	m, _ := input.(map[string]any)
	ev, _ := m["message"].(map[string]any)
	dest, _ := m["destination"].(map[string]any)
	cfg, _ := dest["Config"].(map[string]any)
	return Case{Tool: tool, Source: source, Description: desc, Event: ev, Config: cfg}
}

// peerOutcome reads one peer output: a request, a list of requests, a router
// response ({batchedRequest}), or a refusal ({statusCode, error|message}).
func peerOutcome(out any) PeerOutcome {
	var p PeerOutcome
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if br, ok := x["batchedRequest"]; ok {
				walk(br)
				return
			}
			if ep, ok := x["endpoint"].(string); ok {
				p.Requests = append(p.Requests, peerRequest(ep, x))
				return
			}
			for _, k := range []string{"error", "message"} {
				if s, ok := x[k].(string); ok && p.Error == "" {
					p.Error = s
				}
			}
		}
	}
	walk(out)
	if p.Rendered() {
		p.Error = ""
	} else if p.Error == "" {
		p.Error = "no request"
	}
	return p
}

func peerRequest(endpoint string, r map[string]any) Request {
	req := Request{URL: endpoint}
	req.Method, _ = r["method"].(string)
	body, _ := r["body"].(map[string]any)
	if j, ok := body["JSON"].(map[string]any); ok && len(j) > 0 {
		req.Body = j
		return req
	}
	if ja, ok := body["JSON_ARRAY"].(map[string]any); ok {
		if s, ok := ja["batch"].(string); ok {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			var v any
			if dec.Decode(&v) == nil {
				req.Body = v
				return req
			}
		}
	}
	if f, ok := body["FORM"].(map[string]any); ok && len(f) > 0 {
		req.Body = f
	}
	return req
}
