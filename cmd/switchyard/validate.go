package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// loadAndBuild loads a config directory and compiles its destinations to
// check or preview them, returning every finding. A directory with no
// config at all is an error.
func loadAndBuild(dir string) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	return load(dir, false)
}

// loadToServe is loadAndBuild for serve: credentials must be real
// (plan.BuildToServe).
func loadToServe(dir string) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	return load(dir, true)
}

func load(dir string, serve bool) (*config.Config, map[string]*plan.Plan, config.Diagnostics) {
	if d, none := noConfig(dir); none {
		return nil, nil, config.Diagnostics{d}
	}
	build := plan.Build
	if serve {
		build = plan.BuildToServe
	}
	cfg, diags := config.Load(dir, config.Options{})
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

func newValidateCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config directory; print file:line:col: message per error",
		Long: `validate loads a config directory as serve would, compiles every destination
(settings, presets, triggers and field expressions) and prints each finding as
file:line:col: message on stdout, errors and warnings alike, sorted by file and
position. A directory holding neither switchyard.yaml nor destinations/*.yaml
is an error.

Exit status: 0 when the config is valid (warnings allowed), 1 on any error.`,
		Example: "  switchyard validate --config examples/quickstart",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runValidate(dir, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &dir, "switchyard.yaml and destinations/*.yaml")
	return cmd
}

func runValidate(dir string, stdout, stderr io.Writer) int {
	cfg, _, diags := loadAndBuild(dir)
	for _, d := range diags {
		fmt.Fprintln(stdout, d.String())
	}
	if n := len(diags.Errors()); n > 0 {
		fmt.Fprintf(stderr, "%d error(s)\n", n)
		return exitFailure
	}
	fmt.Fprintf(stderr, "ok: %d destination(s), %d warning(s)\n", len(cfg.Destinations), len(diags.Warnings()))
	return exitOK
}
