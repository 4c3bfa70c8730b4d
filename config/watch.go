package config

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls onChange when a file in the config directory or its
// destinations folder changes, at most once per quiet period (editors write
// files in several steps). It returns when ctx ends.
func Watch(ctx context.Context, dir string, quiet time.Duration, onChange func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return err
	}
	// The destinations folder may appear later; it is added when it does.
	dest := filepath.Join(dir, DestinationsDir)
	_ = w.Add(dest)
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Name == dest && ev.Has(fsnotify.Create) {
				_ = w.Add(dest)
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(quiet, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case <-fire:
			onChange()
		case err := <-w.Errors:
			// fsnotify reports a lost event (its queue overflowed) or a
			// watch that failed: what changed is unknown, so reload.
			if err != nil {
				onChange()
			}
		}
	}
}
