package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func init() {
	// Commands are listed in the order below (the order an operator meets
	// them), not alphabetically.
	cobra.EnableCommandSorting = false
}

// subcommands lists every command, one constructor per file. A new command
// is a new file with its constructor, and one line here.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newServeCmd(),
		newValidateCmd(),
		newPreviewCmd(),
		newCatalogCmd(),
		newSchemaCmd(),
		newPublishCmd(),
		newDLQCmd(),
		newReplayCmd(),
		newRegulateCmd(),
		newSinkCmd(),
		newVersionCmd(),
	}
}

// newRootCmd builds the command tree, writing to stdout and stderr. Help
// (-h, --help, help CMD) goes to stdout and exits 0; shell completion
// comes from cobra's `completion` command.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "switchyard",
		Short: "A destination router for Segment-spec events",
		Long: `switchyard routes Segment-spec events (identify, track, page, screen, group,
alias) from NATS JetStream, or its Segment-compatible HTTP intake, to the tools
a config directory describes: one YAML file per destination, mapped into each
tool's API, delivered with retries, a circuit breaker and a dead-letter queue.

A config directory holds switchyard.yaml and destinations/*.yaml. Commands that
read one take --config DIR (default: $SWITCHYARD_CONFIG, else the current
directory). Every command, flag and exit code: docs/cli.md.`,
		Example: `  switchyard validate --config examples/quickstart
  switchyard serve --config examples/quickstart
  switchyard preview --config examples/quickstart --destination crm examples/quickstart/events.ndjson
  switchyard catalog braze amplitude`,
		Version:       versionString(),
		SilenceErrors: true, // run prints errors, with a pointer to the command's help
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// No command: the usage, on stderr, as a usage error.
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return exitCode(exitUsage)
		},
	}
	root.SetVersionTemplate("switchyard {{.Version}}\n")
	root.Flags().BoolP("version", "v", false, "print the version and the commit this binary was built from")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(subcommands()...)
	return root
}
