package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
)

// configEnv names the environment variable --config defaults to.
const configEnv = "SWITCHYARD_CONFIG"

// defaultConfigDir is $SWITCHYARD_CONFIG, else the current directory.
func defaultConfigDir() string {
	if d := os.Getenv(configEnv); d != "" {
		return d
	}
	return "."
}

// addConfigFlag gives a command the --config flag, completing directories.
func addConfigFlag(cmd *cobra.Command, dir *string, what string) {
	cmd.Flags().StringVar(dir, "config", defaultConfigDir(),
		"config directory: "+what+"; $"+configEnv+" sets the default")
	_ = cmd.MarkFlagDirname("config")
}

// noConfig reports a directory that holds no config at all: neither
// switchyard.yaml nor destinations/*.yaml. config.Load accepts such a
// directory (both are optional), but no operator means it: it is a
// mistyped --config, or a command run from the wrong folder.
func noConfig(dir string) (config.Diagnostic, bool) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return config.Diagnostic{}, false // config.Load says so
	}
	if _, err := os.Stat(filepath.Join(dir, config.GlobalFile)); err == nil {
		return config.Diagnostic{}, false
	}
	for _, ext := range []string{"*.yaml", "*.yml"} {
		if m, _ := filepath.Glob(filepath.Join(dir, config.DestinationsDir, ext)); len(m) > 0 {
			return config.Diagnostic{}, false
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return config.Diagnostic{Pos: config.Pos{File: dir}, Message: fmt.Sprintf(
		"no config here (%s holds neither %s nor %s/*.yaml): pass --config DIR or set $%s",
		abs, config.GlobalFile, config.DestinationsDir, configEnv)}, true
}

// noArgs refuses positional arguments, saying where the config goes: the
// likely mistake is `validate DIR` for `validate --config DIR`.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := ""
	if cmd.Flags().Lookup("config") != nil {
		hint = fmt.Sprintf(" (a config directory goes in --config %s)", args[0])
	}
	return fmt.Errorf("unexpected argument %q%s", args[0], hint)
}

// atMostOneFile accepts FILE or - (stdin), or nothing (stdin).
func atMostOneFile(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("one input file at most (FILE, or - for stdin), got %d: %s", len(args), strings.Join(args, " "))
	}
	return nil
}

// completeDestinations offers the destination names of the --config
// directory given so far on the command line.
func completeDestinations(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	dir, _ := cmd.Flags().GetString("config")
	cfg, _ := config.Load(dir, config.Options{})
	if cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, d := range cfg.Destinations {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeSources offers the sources declared in the --config directory.
func completeSources(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	dir, _ := cmd.Flags().GetString("config")
	cfg, _ := config.Load(dir, config.Options{})
	if cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, s := range cfg.Global.Sources {
		names = append(names, s.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
