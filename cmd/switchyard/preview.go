package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

func runPreview(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ".", "config directory")
	dest := fs.String("destination", "", "destination name (required)")
	source := fs.String("source", "", "source the events come from (default: the destination's first source)")
	asJSON := fs.Bool("json", false, `one JSON object per (event, action): requests {"event","action","method","url","headers","body","status":"request"}, and failed, skipped, filtered, unmatched or invalid lines with their reason`)
	send := fs.Bool("send", false, "send each request once, for real, and print the response")
	failOnError := fs.Bool("fail-on-error", false, "exit 1 when any event is invalid or any action fails to render (for CI gates on a config change)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dest == "" {
		fmt.Fprintln(stderr, "usage: switchyard preview --config DIR --destination NAME [--json] [--send] [FILE|-]")
		return 2
	}
	_, plans, diags := loadAndBuild(*dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	p, ok := plans[*dest]
	if !ok {
		names := make([]string, 0, len(plans))
		for n := range plans {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "preview: no destination %q (have: %s)\n", *dest, strings.Join(names, ", "))
		return 1
	}
	src := *source
	if src == "" && len(p.Sources) > 0 {
		src = p.Sources[0]
	}
	in, name, err := openInput(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "preview:", err)
		return 1
	}
	defer in.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	failed := false
	err = eachEvent(in, func(n int, raw json.RawMessage) error {
		if *send {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			sent, pv, err := dispatch.SendOnce(ctx, p, raw, src)
			if err != nil {
				return fmt.Errorf("event #%d: %w", n, err)
			}
			if *asJSON {
				for _, s := range sent {
					_ = enc.Encode(s)
				}
				return nil
			}
			failed = failed || (*failOnError && pv.Failed())
			printPreview(stdout, n, pv, false)
			for _, s := range sent {
				fmt.Fprintf(stdout, "  → %s %s\n  ← %d %s\n", s.Request.Method, s.Request.URL, s.Status, strings.TrimSpace(s.Response))
				if s.Error != "" {
					fmt.Fprintf(stdout, "    error: %s\n", s.Error)
				}
				failed = failed || s.Status < 200 || s.Status > 299
			}
			return nil
		}
		pv := p.Preview(raw, plan.PreviewOptions{Source: src})
		failed = failed || (*failOnError && pv.Failed())
		if *asJSON {
			for _, l := range pv.Lines() {
				_ = enc.Encode(l)
			}
			return nil
		}
		printPreview(stdout, n, pv, true)
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "preview: %s: %v\n", name, err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// printPreview shows one event the way an operator reads it.
func printPreview(w io.Writer, n int, pv plan.PreviewEvent, withRequests bool) {
	id := pv.MessageID
	if id == "" {
		id = "(no messageId)"
	}
	fmt.Fprintf(w, "event #%d %s\n", n, id)
	if pv.Invalid != "" {
		fmt.Fprintf(w, "  ✗ invalid: %s\n\n", pv.Invalid)
		return
	}
	if pv.Outcome == string(plan.Filtered) || pv.Outcome == string(plan.Unmatched) {
		fmt.Fprintf(w, "  · %s: %s\n", pv.Outcome, pv.Reason)
	}
	for _, a := range pv.Matched {
		fmt.Fprintf(w, "  ✓ %s\n", a)
	}
	for _, f := range pv.Failures {
		key := f.Key
		if key == "" {
			key = f.Action
		}
		fmt.Fprintf(w, "  ✗ %s: %s\n", key, f.Error)
	}
	for _, s := range pv.Skipped {
		fmt.Fprintf(w, "  · %s: %s\n", s.Action, s.Reason)
	}
	if withRequests {
		for _, r := range pv.Requests {
			fmt.Fprintf(w, "\n  %s %s", r.Method, r.URL)
			if r.Batched {
				fmt.Fprint(w, "   (batched: shown as a batch of this event alone)")
			}
			fmt.Fprintln(w)
			keys := make([]string, 0, len(r.Headers))
			for k := range r.Headers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %s: %s\n", k, r.Headers[k])
			}
			if r.Body != nil {
				b, _ := json.MarshalIndent(r.Body, "  ", "  ")
				fmt.Fprintf(w, "\n  %s\n", b)
			}
		}
	}
	fmt.Fprintln(w)
}
