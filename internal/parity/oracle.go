package parity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/switchyard/switchyard/internal/peercorpus"
)

// OracleTool is one tool's run in the oracle.
type OracleTool struct {
	Tool        string         `json:"tool"`
	Destination string         `json:"destination"`
	Settings    map[string]any `json:"settings"`
	// Subscriptions replace the definition's automatic presets when set.
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
	// ReturnedURL is where Segment's pipeline posts what an action returns,
	// for destinations whose actions return their payload instead of
	// requesting it (Segment's own "Segment" destination: the Tracking API).
	ReturnedURL string `json:"returned_url,omitempty"`
}

// Subscription is one of Segment's action subscriptions: an action, the
// FQL condition it runs on, and mapping overrides on top of the action's
// default mapping.
type Subscription struct {
	Name      string         `json:"name" yaml:"name"`
	Action    string         `json:"action" yaml:"action"`
	Subscribe string         `json:"subscribe" yaml:"subscribe"`
	Mapping   map[string]any `json:"mapping,omitempty" yaml:"mapping"`
}

// OracleCase is one event given to the oracle.
type OracleCase struct {
	ID    string         `json:"id"`
	Event map[string]any `json:"event"`
}

// OracleResult is what Segment's definitions did with one case for one tool.
type OracleResult struct {
	Tool    string         `json:"tool"`
	Case    string         `json:"case"`
	Actions []OracleAction `json:"actions"`
}

// OracleAction is one subscription that matched the event.
type OracleAction struct {
	Name     string          `json:"name"`
	Action   string          `json:"action"`
	Requests []OracleRequest `json:"requests"`
	// Error is the action's failure ("" when it succeeded).
	Error string `json:"error"`
}

// OracleRequest is one intercepted request.
type OracleRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"`
}

// Requests returns every request of every action, reduced for Extract.
func (r OracleResult) Requests() []peercorpus.Request {
	var out []peercorpus.Request
	for _, a := range r.Actions {
		for _, q := range a.Requests {
			out = append(out, peercorpus.Request{Method: q.Method, URL: q.URL, Body: q.Body})
		}
	}
	return out
}

// Errors lists the failed actions as "name: error".
func (r OracleResult) Errors() []string {
	var out []string
	for _, a := range r.Actions {
		if a.Error != "" {
			out = append(out, a.Name+": "+a.Error)
		}
	}
	return out
}

// RunOracle runs oracle/run.mjs in dir with node and returns its results,
// keyed by tool and case id.
func RunOracle(ctx context.Context, node, dir string, tools []OracleTool, cases []OracleCase) (map[string]map[string]OracleResult, error) {
	in, err := json.Marshal(map[string]any{"tools": tools, "cases": cases})
	if err != nil {
		return nil, fmt.Errorf("parity oracle input: %w", err)
	}
	cmd := exec.CommandContext(ctx, node, "run.mjs")
	cmd.Dir = dir
	// Segment's servers run in UTC: a time without a zone means UTC there.
	cmd.Env = append(cmd.Environ(), "TZ=UTC")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("parity oracle (node run.mjs in %s): %w\n%s", dir, err, strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	var out struct {
		Results []OracleResult `json:"results"`
	}
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("parity oracle output: %w\nstderr: %s", err, stderr.String())
	}
	res := map[string]map[string]OracleResult{}
	for _, r := range out.Results {
		if res[r.Tool] == nil {
			res[r.Tool] = map[string]OracleResult{}
		}
		res[r.Tool][r.Case] = r
	}
	return res, nil
}
