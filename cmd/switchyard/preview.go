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

	"github.com/switchyard/switchyard/router"
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

Exit status: 0; 1 on a config error, an unreadable input, or (with --send) a
response other than 2xx.`,
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
	cmd.Flags().BoolVar(&o.asJSON, "json", false, `one JSON object per request: {"event","action","method","url","headers","body"}`)
	cmd.Flags().BoolVar(&o.send, "send", false, "send each request once, for real, and print the response")
	return cmd
}

type previewOptions struct {
	dir, dest, source string
	asJSON, send      bool
}

func runPreview(o previewOptions, args []string, stdout, stderr io.Writer) int {
	_, plans, diags := loadAndBuild(o.dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	plan, ok := plans[o.dest]
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
	if src == "" && len(plan.Sources) > 0 {
		src = plan.Sources[0]
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
			sent, pv, err := plan.SendOnce(ctx, raw, src)
			if err != nil {
				return fmt.Errorf("event #%d: %w", n, err)
			}
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
		pv := plan.Preview(raw, router.PreviewOptions{Source: src})
		if o.asJSON {
			for _, r := range pv.Requests {
				_ = enc.Encode(r)
			}
			if len(pv.Requests) == 0 {
				fmt.Fprintf(stderr, "event #%d %s: no request: %s\n", n, pv.MessageID, whyNone(pv))
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

func whyNone(pv router.PreviewEvent) string {
	switch {
	case pv.Invalid != "":
		return "invalid: " + pv.Invalid
	case len(pv.Failures) > 0:
		var s []string
		for _, f := range pv.Failures {
			s = append(s, f.Action+": "+f.Error)
		}
		return "failed: " + strings.Join(s, "; ")
	}
	return pv.Outcome + ": " + pv.Reason
}

// printPreview shows one event the way an operator reads it.
func printPreview(w io.Writer, n int, pv router.PreviewEvent, withRequests bool) {
	id := pv.MessageID
	if id == "" {
		id = "(no messageId)"
	}
	fmt.Fprintf(w, "event #%d %s\n", n, id)
	if pv.Invalid != "" {
		fmt.Fprintf(w, "  ✗ invalid: %s\n\n", pv.Invalid)
		return
	}
	if pv.Outcome == string(router.Filtered) || pv.Outcome == string(router.Unmatched) {
		fmt.Fprintf(w, "  · %s: %s\n", pv.Outcome, pv.Reason)
	}
	for _, a := range pv.Matched {
		fmt.Fprintf(w, "  ✓ %s\n", a)
	}
	for _, f := range pv.Failures {
		fmt.Fprintf(w, "  ✗ %s: %s\n", f.Action, f.Error)
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
