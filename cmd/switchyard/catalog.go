package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/destinations"
)

func newCatalogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog [TYPE...]",
		Short: "List the destination types, or describe one or more: settings, actions and fields",
		Long: `Without arguments, catalog lists every destination type: the built-in webhook
and http, and the catalog tools with their presets. With one or more TYPE
names, it prints each one's description, settings, rate limit and, for a
catalog tool, its presets with their triggers and field tables, from the same
definitions the router runs.

Exit status: 0, or 1 when a TYPE is unknown (the known ones are still printed).`,
		Example: "  switchyard catalog\n  switchyard catalog webhook\n  switchyard catalog braze amplitude",
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return append(builtinTypeNames(), destinations.Tools()...), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitWith(runCatalog(args, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	return cmd
}

// runCatalog lists the types, or prints the ones named, from the same
// definitions the router runs.
func runCatalog(names []string, stdout, stderr io.Writer) int {
	defs, err := destinations.Catalog()
	if err != nil {
		fmt.Fprintln(stderr, "catalog:", err)
		return exitFailure
	}
	if len(names) == 0 {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tTOOL\tCATEGORY\tPRESETS\tDESCRIPTION")
		for _, b := range builtinTypes {
			fmt.Fprintf(tw, "%s\t%s\tgeneric\t-\t%s\n", b.Name, b.Title, b.Summary)
		}
		for _, name := range destinations.Tools() {
			d := defs[name]
			var presets []string
			for _, p := range d.Presets {
				presets = append(presets, p.Name)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Title, d.Category, strings.Join(presets, ","), firstSentence(d.Description))
		}
		tw.Flush()
		fmt.Fprintln(stdout, "\nswitchyard catalog TYPE [TYPE...] shows each type's settings, actions and field table.")
		return exitOK
	}
	status := exitOK
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if b, ok := builtinType(name); ok {
			fmt.Fprint(stdout, b.Markdown())
			continue
		}
		d, ok := defs[name]
		if !ok {
			fmt.Fprintf(stderr, "catalog: unknown tool %q (known: %s)\n", name, strings.Join(append(builtinTypeNames(), destinations.Tools()...), ", "))
			status = exitFailure
			continue
		}
		printTool(stdout, d)
	}
	return status
}

func printTool(stdout io.Writer, d *destinations.Definition) {
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
}

func firstSentence(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
