package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

func newPreviewCmd() *cobra.Command {
	var o previewOptions
	cmd := &cobra.Command{
		Use:   "preview --destination NAME [FILE|-]",
		Short: "Show the exact requests a destination would send for events",
		Long: `preview reads events from FILE (a JSON object, a JSON array of objects or
NDJSON; stdin when FILE is - or absent) and shows, for each, what the
destination would do: the actions whose trigger matched and the exact
requests (method, URL, headers, body) with secrets redacted, or why nothing
is sent (filtered, unmatched, invalid, a mapping failure naming the field).
Nothing is sent and NATS is not needed, unless --send is given: then each
request is sent once, for real, and the response is printed.

With --json, one JSON object per (event, action): each request with the
fields {"event","action","method","url","headers","body"} and "status":
"request"; each action that failed ("status":"failed", with "error") or sent
nothing ("skipped", with "reason"); and one line for an event that sends
nothing at all (filtered, unmatched, invalid, with its reason).

Exit status: 0; 1 on a config error, an unreadable input, (with --send) a
response other than 2xx, or (with --fail-on-error) any invalid event or
failed action: a CI job can gate a config change on it.`,
		Example: `  switchyard preview --config examples/quickstart --destination crm examples/quickstart/events.ndjson
  echo '{"type":"identify","userId":"user-42","traits":{"email":"ada@example.com"}}' | switchyard preview --destination crm --json`,
		Args: atMostOneFile,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitWith(runPreview(o, args, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &o.dir, "switchyard.yaml and destinations/*.yaml")
	cmd.Flags().StringVar(&o.dest, "destination", "", "destination name (required)")
	_ = cmd.MarkFlagRequired("destination")
	_ = cmd.RegisterFlagCompletionFunc("destination", completeDestinations)
	cmd.Flags().StringVar(&o.source, "source", "", "source the events come from (default: the destination's first source)")
	_ = cmd.RegisterFlagCompletionFunc("source", completeSources)
	cmd.Flags().BoolVar(&o.asJSON, "json", false, `one JSON object per (event, action), failures and skips included with their reason`)
	cmd.Flags().BoolVar(&o.send, "send", false, "send each request once, for real, and print the response")
	cmd.Flags().BoolVar(&o.failOnError, "fail-on-error", false, "exit 1 when any event is invalid or any action fails to render")
	return cmd
}

type previewOptions struct {
	dir, dest, source         string
	asJSON, send, failOnError bool
}

func runPreview(o previewOptions, args []string, stdout, stderr io.Writer) int {
	_, plans, diags := loadAndBuild(o.dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	p, ok := plans[o.dest]
	if !ok {
		names := make([]string, 0, len(plans))
		for n := range plans {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "preview: no destination %q (have: %s)\n", o.dest, strings.Join(names, ", "))
		return 1
	}
	src := o.source
	if src == "" && len(p.Sources) > 0 {
		src = p.Sources[0]
	}
	in, name, err := openInput(args)
	if err != nil {
		fmt.Fprintln(stderr, "preview:", err)
		return 1
	}
	defer in.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	failed := false
	err = eachEvent(in, func(n int, raw json.RawMessage) error {
		if o.send {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			sent, pv, err := dispatch.SendOnce(ctx, p, raw, src)
			if err != nil {
				return fmt.Errorf("event #%d: %w", n, err)
			}
			failed = failed || (o.failOnError && pv.Failed())
			if o.asJSON {
				for _, s := range sent {
					_ = enc.Encode(s)
				}
				return nil
			}
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
		failed = failed || (o.failOnError && pv.Failed())
		if o.asJSON {
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
	// What each of the destination's gates made of it, the one that
	// dropped it being the outcome's reason.
	for _, g := range pv.Gates {
		if g.Result != plan.GateDropped {
			fmt.Fprintf(w, "  ▸ %s %s: %s\n", g.Gate, g.Result, g.Detail)
		}
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
