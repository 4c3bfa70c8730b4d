package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

func newSchemaCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the destination JSON Schema, or write both schemas with --out DIR (for editors)",
		Long: `Without --out, schema prints the JSON Schema of destination files. With --out,
it writes ` + config.GlobalSchemaFile + ` and ` + config.DestinationSchemaFile + ` into DIR, for the
catalog built into this binary: editors (yaml-language-server) validate and
complete config files from them. docs/schema/ holds the committed copies.`,
		Example: "  switchyard schema --out docs/schema",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runSchema(out, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write "+config.GlobalSchemaFile+" and "+config.DestinationSchemaFile+" into")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// runSchema prints the JSON Schema of destination files, or with out set
// writes both schemas (switchyard.yaml and destination files).
func runSchema(outDir string, stdout, stderr io.Writer) int {
	tools, err := plan.ToolSchemas()
	if err != nil {
		fmt.Fprintf(stderr, "schema: %v\n", err)
		return 1
	}
	dest, err := config.DestinationSchema(tools)
	if err != nil {
		fmt.Fprintf(stderr, "schema: destination schema: %v\n", err)
		return 1
	}
	if outDir == "" {
		_, _ = stdout.Write(dest)
		return 0
	}
	global, err := config.GlobalSchema()
	if err != nil {
		fmt.Fprintf(stderr, "schema: global schema: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil { //nolint:gosec // G301: schemas are for editors and the repository, readable by all
		fmt.Fprintf(stderr, "schema: %v\n", err)
		return 1
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{config.GlobalSchemaFile, global}, {config.DestinationSchemaFile, dest}} {
		path := filepath.Join(outDir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil { //nolint:gosec // G306: as above
			fmt.Fprintf(stderr, "schema: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, path)
	}
	return 0
}
