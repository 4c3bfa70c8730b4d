package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/switchyard/switchyard/destinations"
)

// runCatalog lists the tools, or prints one, from the same definitions the
// router runs.
func runCatalog(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	defs, err := destinations.Catalog()
	if err != nil {
		fmt.Fprintln(stderr, "catalog:", err)
		return 1
	}
	if fs.NArg() == 0 {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tTOOL\tCATEGORY\tPRESETS\tDESCRIPTION")
		fmt.Fprintln(tw, "webhook\tWebhook\tgeneric\t-\tforward events as they came, or map them with actions; Standard Webhooks signing")
		fmt.Fprintln(tw, "http\tHTTP\tgeneric\t-\tactions give method, URL, headers and body: any tool not in the catalog")
		for _, name := range destinations.Tools() {
			d := defs[name]
			var presets []string
			for _, p := range d.Presets {
				presets = append(presets, p.Name)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Title, d.Category, strings.Join(presets, ","), firstSentence(d.Description))
		}
		tw.Flush()
		fmt.Fprintln(stdout, "\nswitchyard catalog TYPE shows a tool's settings, actions and field table.")
		return 0
	}
	d, ok := defs[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "catalog: unknown tool %q (known: %s)\n", fs.Arg(0), strings.Join(destinations.Tools(), ", "))
		return 1
	}
	fmt.Fprintf(stdout, "## %s (`type: %s`)\n\n%s\n\nAPI documentation: %s\n", d.Title, d.Name, strings.TrimSpace(d.Description), d.Docs)
	if d.Rate.RPS > 0 || d.Rate.Note != "" {
		fmt.Fprintf(stdout, "Rate limit: %.0f requests/s", d.Rate.RPS)
		if d.Rate.Note != "" {
			fmt.Fprintf(stdout, " (%s)", d.Rate.Note)
		}
		fmt.Fprintln(stdout)
	}
	if d.Dedupe != "" {
		fmt.Fprintf(stdout, "Dedupe: %s is filled from messageId\n", d.Dedupe)
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, d.Markdown())
	for _, n := range d.Notes {
		fmt.Fprintf(stdout, "\nNote: %s\n", n)
	}
	return 0
}

func firstSentence(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
