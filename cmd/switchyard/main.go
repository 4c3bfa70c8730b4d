// Command switchyard routes Segment-spec events from NATS JetStream to the
// tools operators configure. Each subcommand lives in its own file and is
// listed once in root.go; docs/cli.md documents every command, flag and
// exit code.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Exit codes, documented in docs/cli.md. Scripts rely on them: keep them.
const (
	exitOK          = 0   // the command did what was asked
	exitFailure     = 1   // it ran and found a problem: config errors, rejected or dead-lettered events, NATS unreachable
	exitUsage       = 2   // the command line is wrong: unknown command or flag, bad flag value, missing required flag
	exitInterrupted = 130 // SIGINT or SIGTERM stopped a long-running command (publish, replay, dlq replay) early
)

// exitCode is what a command's RunE returns to end with a given code, after
// it printed its own message. Any other error comes from cobra (flags,
// arguments, unknown command): a usage error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitWith turns a command's status into RunE's error.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return exitCode(code)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	// cobra's own errors (flags, arguments, unknown commands) name what is
	// wrong; point at the help of the command they are about.
	fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), strings.TrimSpace(err.Error()))
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitUsage
}

// newLogger builds the slog logger a config asks for.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
