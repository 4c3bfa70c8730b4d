// Command switchyard routes Segment-spec events from NATS JetStream to the
// tools operators configure: serve, validate, preview, catalog, publish,
// dlq, replay and sink.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the router: embedded NATS (or join one), route every destination", runServe},
		{"validate", "check a config directory; print file:line:col: message per error", runValidate},
		{"preview", "show the exact requests a destination would send for events", runPreview},
		{"catalog", "list the tools, or show one tool's settings, actions and fields", runCatalog},
		{"schema", "print the destination JSON Schema, or write both schemas with --out DIR (for editors)", runSchema},
		{"publish", "publish events (NDJSON or a JSON array) to a source", runPublish},
		{"dlq", "list, replay or purge a destination's dead letters", runDLQ},
		{"replay", "re-deliver past events from EVENTS to one destination", runReplay},
		{"sink", "a local HTTP receiver that prints what it is sent", runSink},
		{"version", "print the version", func(_ []string, out, _ io.Writer) int { fmt.Fprintln(out, "switchyard", version); return 0 }},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "switchyard: a destination router for Segment-spec events")
	fmt.Fprintln(w, "\nUsage: switchyard COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'switchyard COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
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
