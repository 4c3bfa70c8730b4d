package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time by the Makefile:
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=$(git rev-parse HEAD)"
//
// A plain `go build` or `go install` leaves them empty; versionString then
// reads what the Go toolchain stamped into the binary (the module version,
// and the VCS revision of a build inside a git checkout).
var (
	version = ""
	commit  = ""
)

// versionString is what --version and `switchyard version` print after
// "switchyard ": the version, then the commit it was built from.
func versionString() string {
	return buildVersion(version, commit, readBuildInfo())
}

func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// buildVersion prefers the -X values, and falls back to the build info.
func buildVersion(v, c string, bi *debug.BuildInfo) string {
	stamped := v != "" // -X main.version, from git describe --dirty
	modified := false
	goVersion := runtime.Version()
	if bi != nil {
		goVersion = bi.GoVersion
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version // go install module@version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	} else if modified && !stamped {
		// Only the build info knows; a -X version from git describe
		// --dirty says so itself.
		c += ", modified"
	}
	return fmt.Sprintf("%s (commit %s, %s %s/%s)", v, c, goVersion, runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit this binary was built from (same as --version)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "switchyard", versionString())
			return nil
		},
	}
}
