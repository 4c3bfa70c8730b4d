package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/console"
)

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the router: embedded NATS (or join one), route every destination",
		Long: `serve loads and validates the config directory, starts the admin listener
(admin.listen, default 127.0.0.1:8088: the console at /, /metrics, /healthz,
/readyz), starts an embedded NATS server with JetStream on 127.0.0.1:4222
unless nats.url or $SWITCHYARD_NATS_URL names one to join, and routes every
destination. With ingest.enabled it also serves the Segment-compatible HTTP
intake.

The config is reloaded on a file change and on SIGHUP; a config that does not
validate is refused and the running one keeps serving. SIGINT or SIGTERM stops
it gracefully: in-flight sends finish (up to --stop-timeout), the rest are
redelivered later.

Exit status: 0 after a graceful stop, 1 when the config is invalid or a
listener or NATS cannot start.`,
		Example: "  switchyard serve --config examples/quickstart --data ./data",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runServe(o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	addConfigFlag(cmd, &o.dir, "switchyard.yaml and destinations/*.yaml")
	cmd.Flags().StringVar(&o.data, "data", "./data", "data directory (the embedded NATS server's storage)")
	_ = cmd.MarkFlagDirname("data")
	cmd.Flags().DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "how long shutdown waits for in-flight sends before nak'ing them")
	return cmd
}

type serveOptions struct {
	dir, data   string
	stopTimeout time.Duration
}

// embeddedMemoryLimit is the soft memory limit (runtime/debug) of a serve
// that runs the embedded nats-server.
const embeddedMemoryLimit = 320 << 20

func runServe(o serveOptions, stdout, stderr io.Writer) int {
	cfg, plans, diags := loadToServe(o.dir)
	if diags.Err() != nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		fmt.Fprintf(stderr, "switchyard: %d config error(s); not starting\n", len(diags.Errors()))
		return 1
	}
	if os.Getenv("GOGC") == "" {
		// router.GCPercent: GOGC in the environment still wins.
		debug.SetGCPercent(router.GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && router.NATSURL(cfg) == "" {
		// The embedded shape: nats-server's buffers and caches share the
		// router's heap, and GOGC=300 lets garbage reach 4 times what is
		// live. A soft limit keeps the process near it under a flood
		// (docs/deployment.md: 338 MB peak against 468 MB without it, at the
		// same drain speed). GOMEMLIMIT in the environment still wins.
		debug.SetMemoryLimit(embeddedMemoryLimit)
	}
	log := newLogger(stderr, cfg.Global.Log.Level, cfg.Global.Log.Format)
	slog.SetDefault(log)
	for _, w := range diags.Warnings() {
		log.Warn(w.String())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The admin listener comes up first: /healthz answers while NATS starts
	// and /readyz says when routing begins.
	r := router.New(cfg, plans, router.Options{DataDir: o.data, Logger: log, StopTimeout: o.stopTimeout, Console: console.Handler})
	adminAddr := cfg.Global.Admin.Listen
	if adminAddr == "" {
		adminAddr = "127.0.0.1:8088"
	}
	ln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		log.Error("admin listener", "addr", adminAddr, "err", err)
		return 1
	}
	admin := &http.Server{Handler: r.AdminHandler(cfg.Global.Admin.Token), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String())
	access := "read-only (set admin.token to replay and purge from it)"
	if cfg.Global.Admin.Token != "" {
		access = "sign in with any user name and admin.token as the password"
	}
	log.Info("console", "url", "http://"+ln.Addr().String()+"/", "access", access)

	if err := r.Start(ctx); err != nil {
		log.Error("start failed", "err", err)
		_ = admin.Close()
		return 1
	}
	stopIngest, err := startIngest(ctx, cfg, r, log)
	if err != nil {
		log.Error("ingest failed to start", "err", err)
		r.Stop()
		_ = admin.Close()
		return 1
	}

	reload := func(why string) {
		log.Info("reloading config", "trigger", why)
		newCfg, d := config.Load(o.dir, config.Options{})
		if newCfg == nil {
			newCfg = &config.Config{}
		}
		if err := r.Reload(ctx, newCfg, d); err != nil {
			log.Error("reload", "err", err)
			return
		}
		log.Info("config reloaded", "destinations", len(r.Destinations()))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	changed := make(chan struct{}, 1)
	if cfg.Global.Reload.Watch == nil || *cfg.Global.Reload.Watch {
		go func() {
			err := config.Watch(ctx, o.dir, 300*time.Millisecond, func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			})
			if err != nil {
				log.Warn("config watch unavailable; SIGHUP still reloads", "err", err)
			}
		}()
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			reload("SIGHUP")
		case <-changed:
			reload("file change")
		}
	}
	log.Info("shutting down: finishing in-flight sends")
	stopIngest()
	r.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(sctx)
	log.Info("stopped")
	return 0
}
