package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router"
)

// connectFor joins the NATS a config points at: its url, or the embedded
// server's listen address when it runs one.
func connectFor(cfg *config.Config) (*nats.Conn, jetstream.JetStream, error) {
	url := router.NATSURL(cfg)
	nc := cfg.Global.NATS
	if url == "" {
		listen := nc.Embedded.Listen
		if listen == "" {
			listen = router.DefaultEmbeddedListen
		}
		url = "nats://" + listen
		if nc.Embedded.Token != "" {
			nc.Token = nc.Embedded.Token
		}
	}
	conn, err := router.Connect(nc, url)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (is `switchyard serve` running?)", err)
	}
	js, err := jetstream.New(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, js, nil
}

// loadConfigOnly loads a config directory for commands that need NATS
// settings and destinations but do not route.
func loadConfigOnly(dir string, stderr io.Writer) (*config.Config, bool) {
	if d, none := noConfig(dir); none {
		fmt.Fprintln(stderr, d.String())
		return nil, false
	}
	cfg, diags := config.Load(dir, config.Options{})
	if cfg == nil || diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return nil, false
	}
	return cfg, true
}

func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newBar shows progress on a terminal, and nothing otherwise.
func newBar(stderr io.Writer, total int64, what string) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return progressbar.DefaultSilent(total, what)
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

type rejects struct {
	mu       sync.Mutex
	byReason map[string][]int
	n        int
}

func (r *rejects) add(n int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byReason == nil {
		r.byReason = map[string][]int{}
	}
	r.byReason[reason] = append(r.byReason[reason], n)
	r.n++
}

// count is how many events were rejected.
func (r *rejects) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *rejects) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reasons := make([]string, 0, len(r.byReason))
	for k := range r.byReason {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool { return len(r.byReason[reasons[i]]) > len(r.byReason[reasons[j]]) })
	for _, k := range reasons {
		at := r.byReason[k]
		shown := at
		if len(shown) > 5 {
			shown = shown[:5]
		}
		s := make([]string, len(shown))
		for i, n := range shown {
			s[i] = fmt.Sprintf("#%d", n)
		}
		more := ""
		if len(at) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(at)-len(shown))
		}
		fmt.Fprintf(w, "  %6d  %s (events %s%s)\n", len(at), k, strings.Join(s, ", "), more)
	}
}

func newPublishCmd() *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:   "publish --source NAME [FILE|-]",
		Short: "Publish events (NDJSON or a JSON array) to a source",
		Long: `publish reads events from FILE (a JSON object, a JSON array of objects or
NDJSON; stdin when FILE is - or absent), checks each as the router would, and
publishes it to events.<source>.<type> on the NATS of the config directory,
with Nats-Msg-Id set to its messageId: JetStream drops an event published
twice within its dedupe window. An event without messageId gets a generated
one (publishing it again then makes a second event).

Every event is accounted for: published, duplicate, rejected (with the reason
and the event's position), or not acknowledged within --ack-timeout. When
JetStream stops acknowledging, or has no stream for the subject, publish stops
reading and says what was not published. SIGINT or SIGTERM stops it the same
way, after waiting for the acks of what was sent (a second Ctrl-C quits at
once).

Exit status: 0 when every event was published or a duplicate; 1 when one was
rejected or not acknowledged, the input is not JSON, or NATS is unreachable;
2 on a bad flag; 130 when interrupted.`,
		Example: `  switchyard publish --config examples/quickstart --source web examples/quickstart/events.ndjson
  cat backfill.ndjson | switchyard publish --source web -`,
		Args: atMostOneFile,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitWith(runPublish(o, args, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &o.dir, "for NATS settings and source names")
	cmd.Flags().StringVar(&o.source, "source", "", "source id: events go to events.<source>.<type> (required)")
	_ = cmd.MarkFlagRequired("source")
	_ = cmd.RegisterFlagCompletionFunc("source", completeSources)
	cmd.Flags().IntVar(&o.window, "window", 256, "publishes awaiting JetStream's ack at most")
	cmd.Flags().DurationVar(&o.ackTimeout, "ack-timeout", 30*time.Second, "how long one publish waits for JetStream's ack before publish gives up")
	return cmd
}

type publishOptions struct {
	dir, source string
	window      int
	ackTimeout  time.Duration
}

func runPublish(o publishOptions, args []string, stdout, stderr io.Writer) int {
	if !config.NamePattern.MatchString(o.source) {
		fmt.Fprintf(stderr, "publish: --source %q: want lowercase letters, digits, - and _\n", o.source)
		return exitUsage
	}
	if o.ackTimeout <= 0 {
		fmt.Fprintln(stderr, "publish: --ack-timeout must be above 0")
		return exitUsage
	}
	cfg, ok := loadConfigOnly(o.dir, stderr)
	if !ok {
		return exitFailure
	}
	if len(cfg.Global.Sources) > 0 {
		known := false
		for _, s := range cfg.Global.Sources {
			known = known || s.Name == o.source
		}
		if !known {
			fmt.Fprintf(stderr, "publish: source %q is not declared in %s\n", o.source, config.GlobalFile)
			return exitFailure
		}
	}
	in, name, err := openInput(args)
	if err != nil {
		fmt.Fprintln(stderr, "publish:", err)
		return exitFailure
	}
	defer in.Close()
	nc, _, err := connectFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "publish:", err)
		return exitFailure
	}
	defer nc.Close()
	window := max(o.window, 1)
	// Without an ack timeout a future whose ack never comes (a server that
	// stopped answering, a subject some non-JetStream subscriber swallows)
	// would never resolve, and publish would wait forever.
	ajs, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(window), jetstream.WithPublishAsyncTimeout(o.ackTimeout))
	if err != nil {
		fmt.Fprintln(stderr, "publish:", err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &publisher{
		js: ajs, source: o.source, window: window, ackTimeout: o.ackTimeout,
		lim: mappings.Limits{MaxBytes: cfg.Global.Limits.MaxEventBytes, MaxDepth: cfg.Global.Limits.MaxDepth, MaxProperties: cfg.Global.Limits.MaxProperties},
		bar: newBar(stderr, -1, "publishing "+name),
	}
	res := p.run(ctx, stop, in, stderr)
	_ = p.bar.Finish()
	return res.report(stdout, stderr, name, o.ackTimeout)
}
