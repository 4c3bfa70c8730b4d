package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router"
)

// startIngest starts the Segment-compatible HTTP intake when enabled, on
// the router's NATS connection. It returns a function that stops it
// gracefully (requests in progress get their answer).
func startIngest(ctx context.Context, cfg *config.Config, r *router.Router, log *slog.Logger) (func(), error) {
	g := cfg.Global
	if !g.Ingest.Enabled {
		return func() {}, nil
	}
	keys := map[string]string{}
	for _, s := range g.Sources {
		for _, k := range s.WriteKeys {
			keys[k] = s.Name
		}
	}
	js, err := jetstream.New(r.Conn(), jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	srv, err := ingest.New(ingest.Options{
		WriteKeys:     keys,
		MaxEventBytes: g.Ingest.MaxEventBytes,
		MaxBatchBytes: g.Ingest.MaxBatchBytes,
		Limits:        mappings.Limits{MaxDepth: g.Limits.MaxDepth, MaxProperties: g.Limits.MaxProperties},
		JetStream:     js,
		Logger:        log.With("component", "ingest"),
		Metrics:       r.Metrics().Registry,
		// A publish refused for lack of space makes the router not ready.
		OnPublishError: r.NoteWrite,
		// A user suppressed at every destination is not even stored.
		Suppressed: r.Suppressions().SuppressedEverywhere,
	})
	if err != nil {
		return nil, err
	}
	addr := g.Ingest.Listen
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ingest listener %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ingest listener stopped", "err", err)
		}
	}()
	log.Info("Segment HTTP intake listening", "addr", ln.Addr().String(), "sources", len(g.Sources))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}, nil
}
