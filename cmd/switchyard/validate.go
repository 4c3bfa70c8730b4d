package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// loadAndBuild loads a config directory and compiles its destinations,
// returning every finding.
func loadAndBuild(dir string) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	return load(dir, false)
}

// loadToServe is loadAndBuild for serve: credentials must be real.
func loadToServe(dir string) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	return load(dir, true)
}

func load(dir string, serve bool) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	cfg, diags := config.Load(dir, config.Options{})
	build := plan.Build
	if serve {
		build = plan.BuildToServe
	}
	if cfg == nil || diags.Err() != nil {
		// Expression and catalog checks still run on what parsed, so one
		// pass reports every error.
		if cfg != nil {
			_, more := build(cfg)
			diags = append(diags, more...)
			diags = dedupe(diags)
			diags.Sort()
		}
		return cfg, nil, diags
	}
	plans, more := build(cfg)
	diags = append(diags, more...)
	diags.Sort()
	return cfg, plans, diags
}

func dedupe(ds config.Diagnostics) config.Diagnostics {
	seen := map[string]bool{}
	var out config.Diagnostics
	for _, d := range ds {
		if k := d.String(); !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ".", "config directory (switchyard.yaml and destinations/*.yaml)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, _, diags := loadAndBuild(*dir)
	for _, d := range diags {
		fmt.Fprintln(stdout, d.String())
	}
	if n := len(diags.Errors()); n > 0 {
		fmt.Fprintf(stderr, "%d error(s)\n", n)
		return 1
	}
	fmt.Fprintf(stderr, "ok: %d destination(s), %d warning(s)\n", len(cfg.Destinations), len(diags.Warnings()))
	return 0
}
