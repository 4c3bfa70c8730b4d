package main

import (
	"context"
	"errors"
	"flag"
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

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ".", "config directory (switchyard.yaml and destinations/*.yaml)")
	data := fs.String("data", "./data", "data directory (the embedded NATS server's storage)")
	stopTimeout := fs.Duration("stop-timeout", 30*time.Second, "how long shutdown waits for in-flight sends before nak'ing them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, plans, diags := loadToServe(*dir)
	if diags.Err() != nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		fmt.Fprintf(stderr, "switchyard: %d config error(s); not starting\n", len(diags.Errors()))
		return 1
	}
	if os.Getenv("GOGC") == "" {
		// A router's heap is mostly short-lived event maps: collecting less
		// often buys throughput for memory it has (docs/performance.md).
		// GOGC in the environment still wins.
		debug.SetGCPercent(300)
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
	r := router.New(cfg, plans, router.Options{DataDir: *data, Logger: log, StopTimeout: *stopTimeout})
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
		newCfg, d := config.Load(*dir, config.Options{})
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
			err := config.Watch(ctx, *dir, 300*time.Millisecond, func() {
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
