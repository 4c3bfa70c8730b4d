package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
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
	tools, err := toolSchemas()
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

// toolSchemas converts the catalog into what config's schema generator
// takes (config imports nothing internal). config's schema tests convert
// the same way; keep the two in step.
func toolSchemas() ([]config.ToolSchema, error) {
	cat, err := destinations.Catalog()
	if err != nil {
		return nil, err
	}
	var out []config.ToolSchema
	for _, name := range destinations.Tools() {
		d := cat[name]
		ts := config.ToolSchema{Name: d.Name, Title: d.Title, Description: d.Description}
		for _, s := range d.Settings {
			ts.Settings = append(ts.Settings, config.ToolSetting{Name: s.Name, Description: s.Description, Format: s.Format,
				Required: s.Required, Secret: s.Secret, Enum: s.Enum, Default: s.Default})
		}
		// The router accepts settings.endpoint for tools that pick a base
		// URL from a region or data center setting.
		if d.Endpoints != nil {
			if _, ok := d.Setting("endpoint"); !ok {
				ts.Settings = append(ts.Settings, config.ToolSetting{Name: "endpoint", Format: "url",
					Description: "Base URL, overriding the one " + d.Endpoints.Setting + " selects."})
			}
		}
		for _, p := range d.Presets {
			ts.Presets = append(ts.Presets, p.Name)
		}
		out = append(out, ts)
	}
	return out, nil
}
