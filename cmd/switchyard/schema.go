package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// runSchema prints the JSON Schema of destination files, or with --out
// writes both schemas (switchyard.yaml and destination files) for the
// catalog built into this binary, for editors (yaml-language-server).
func runSchema(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchyard schema [--out DIR]\n\nWithout --out, prints the destination file schema. With --out, writes\n"+
			config.GlobalSchemaFile+" and "+config.DestinationSchemaFile+" into DIR.\n\nFlags:")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "directory to write "+config.GlobalSchemaFile+" and "+config.DestinationSchemaFile+" into")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "schema: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
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
	if *out == "" {
		_, _ = stdout.Write(dest)
		return 0
	}
	global, err := config.GlobalSchema()
	if err != nil {
		fmt.Fprintf(stderr, "schema: global schema: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "schema: %v\n", err)
		return 1
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{config.GlobalSchemaFile, global}, {config.DestinationSchemaFile, dest}} {
		path := filepath.Join(*out, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			fmt.Fprintf(stderr, "schema: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, path)
	}
	return 0
}
