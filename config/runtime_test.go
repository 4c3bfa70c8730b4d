package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// Each case is a config directory and the diagnostics it must give, as
// "file:line:col: message-substring" (all errors unless warn is set), or
// none when want is empty.
func TestRuntimeKeysAreValidated(t *testing.T) {
	cases := []struct {
		name   string
		global string
		dests  map[string]string
		want   []string
		warn   bool
	}{
		{
			name:   "admin beyond loopback without a token",
			global: "admin:\n  listen: 0.0.0.0:8088\n",
			want:   []string{`switchyard.yaml:2:11: the admin listener would serve /debug/deliveries (samples of delivered and failed events) beyond loopback (0.0.0.0:8088) without a token: set admin.token, or admin.allow_unauthenticated: true`},
		},
		{
			name:   "admin on every interface without a token",
			global: "admin:\n  listen: :8088\n",
			want:   []string{`switchyard.yaml:2:11: the admin listener would serve`},
		},
		{name: "admin beyond loopback with a token", global: "admin:\n  listen: 0.0.0.0:8088\n  token: ${T}\n"},
		{name: "admin beyond loopback, explicitly allowed", global: "admin:\n  listen: 10.0.0.5:8088\n  allow_unauthenticated: true\n"},
		{name: "admin on loopback", global: "admin:\n  listen: '[::1]:8088'\n"},
		{name: "admin on localhost", global: "admin:\n  listen: localhost:8088\n"},
		{
			name:   "sync_interval neither always nor a duration",
			global: "nats:\n  embedded:\n    sync_interval: sometimes\n",
			want:   []string{`switchyard.yaml:3:20: sync_interval "sometimes": want always or a positive duration`},
		},
		{
			name:   "sync_interval zero",
			global: "nats:\n  embedded:\n    sync_interval: 0s\n",
			want:   []string{`switchyard.yaml:3:20: sync_interval "0s": want always or a positive duration`},
		},
		{name: "sync_interval always", global: "nats:\n  embedded:\n    sync_interval: always\n"},
		{name: "sync_interval a duration", global: "nats:\n  embedded:\n    sync_interval: 10s\n"},
		{
			name:   "max_store below streams.max_bytes",
			global: "nats:\n  embedded:\n    max_store: 1000000\nstreams:\n  max_bytes: 2000000\n",
			want:   []string{`switchyard.yaml:3:16: max_store 1000000 is below streams.max_bytes 2000000`},
		},
		{
			name:   "embedded keys with nats.url",
			global: "nats:\n  url: nats://n1:4222\n  embedded:\n    sync_interval: always\n    max_store: 5000000\n",
			want: []string{
				`switchyard.yaml:4:20: warning: nats.embedded.sync_interval has no effect: nats.url is set`,
				`switchyard.yaml:5:16: warning: nats.embedded.max_store has no effect`,
			},
			warn: true,
		},
		{
			name:   "default retry window against a short max_age",
			global: "streams:\n  max_age: 2h\n",
			want:   []string{`switchyard.yaml:2:12: defaults.delivery.retry_window 4h + backoff.max 10m + 10m margin is 4h20m, over streams.max_age 2h: EVENTS would drop events before they are dead-lettered. Raise streams.max_age to at least 4h20m`},
		},
		{
			name:   "global retry window against max_age",
			global: "streams:\n  max_age: 1d\ndefaults:\n  delivery:\n    retry_window: 24h\n",
			want:   []string{`switchyard.yaml:5:19: defaults.delivery.retry_window 1d + backoff.max 10m`},
		},
		{
			name:   "a destination's own retry window against max_age",
			global: "streams:\n  max_age: 3h\ndefaults:\n  delivery:\n    retry_window: 1h\n",
			dests: map[string]string{
				"braze.yaml":   "type: webhook\ndelivery:\n  retry_window: 3h\n",
				"ok.yaml":      "type: webhook\ndelivery:\n  retry_window: 2h\n",
				"inherit.yaml": "type: webhook\n",
			},
			want: []string{`braze.yaml:3:17: destination braze: delivery.retry_window 3h + backoff.max 10m + 10m margin is 3h20m, over streams.max_age 3h (`},
		},
		{
			name:   "a destination's own backoff against max_age",
			global: "streams:\n  max_age: 5h\n",
			dests:  map[string]string{"slow.yaml": "type: webhook\ndelivery:\n  backoff:\n    max: 1h\n"},
			want:   []string{`slow.yaml:4:10: destination slow: delivery.retry_window 4h + backoff.max 1h + 10m margin is 5h10m, over streams.max_age 5h`},
		},
		{
			name:   "exactly at the margin",
			global: "streams:\n  max_age: 4h20m\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dests := c.dests
			if dests == nil {
				dests = map[string]string{"d.yaml": "type: webhook\n"}
			}
			dir := writeDir(t, c.global, dests)
			_, diags := config.Load(dir, env(map[string]string{"T": "tok"}))
			got := diags.Errors()
			if c.warn {
				got = diags.Warnings()
				if diags.Err() != nil {
					t.Errorf("warnings only, got errors:\n%s", diags.Errors())
				}
			}
			if len(c.want) == 0 {
				if len(diags) != 0 {
					t.Fatalf("want no findings, got:\n%s", diags)
				}
				return
			}
			if len(got) != len(c.want) {
				t.Errorf("%d findings, want %d:\n%s", len(got), len(c.want), diags)
			}
			for _, w := range c.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("findings:\n%s\nwant a line containing %q", got, w)
				}
			}
		})
	}
}

func TestRuntimeKeysReadWithTheirDefaults(t *testing.T) {
	dir := writeDir(t, "", nil)
	cfg, diags := config.Load(dir, env(nil))
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	n := cfg.Global.NATS
	if n.ConnectWaitOrDefault() != 60*time.Second || config.DefaultConnectWait != 60*time.Second {
		t.Errorf("connect_wait default = %v", n.ConnectWaitOrDefault())
	}
	if n.Embedded.MaxMemoryOrDefault() != 256<<20 {
		t.Errorf("max_memory default = %d", n.Embedded.MaxMemoryOrDefault())
	}
	if always, iv := n.Embedded.SyncPolicy(); always || iv != time.Second {
		t.Errorf("sync_interval unset = %v %v, want 1s (switchyard's default, chosen from the figures in docs/deployment.md)", always, iv)
	}

	dir = writeDir(t, "nats:\n  connect_wait: 0s\n  embedded:\n    sync_interval: always\n    max_memory: 1_048_576\n", nil)
	cfg, diags = config.Load(dir, env(nil))
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	n = cfg.Global.NATS
	if n.ConnectWaitOrDefault() != 0 {
		t.Errorf("connect_wait: 0s = %v, want 0 (do not wait)", n.ConnectWaitOrDefault())
	}
	if always, _ := n.Embedded.SyncPolicy(); !always {
		t.Error("sync_interval: always not read as always")
	}
	if n.Embedded.MaxMemoryOrDefault() != 1<<20 {
		t.Errorf("max_memory = %d", n.Embedded.MaxMemoryOrDefault())
	}
	if _, iv := (config.Embedded{SyncInterval: "30s"}).SyncPolicy(); iv != 30*time.Second {
		t.Errorf("sync_interval 30s = %v", iv)
	}
}

func TestRetryWindowFits(t *testing.T) {
	if ok, need := config.RetryWindowFits(4*time.Hour, 10*time.Minute, 7*24*time.Hour); !ok || need != 4*time.Hour+20*time.Minute {
		t.Errorf("defaults: %v %v", ok, need)
	}
	if ok, _ := config.RetryWindowFits(30*time.Second, 10*time.Minute, 2*time.Minute); ok {
		t.Error("issue 12's config (window 30s, max_age 2m) must not fit")
	}
}

// A short max_age is fine when every destination sets a window that fits
// it: the defaults it would break are used by none.
func TestShortMaxAgeWithEveryDestinationsOwnWindowPasses(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("switchyard.yaml", "streams:\n  max_age: 15m\n")
	write("destinations/a.yaml", "type: webhook\nsettings: {url: https://x.test}\ndelivery:\n  retry_window: 3s\n  backoff: {max: 1s}\n")
	if _, diags := config.Load(dir, config.Options{}); diags.Err() != nil {
		t.Fatalf("refused: %v", diags)
	}
	write("destinations/b.yaml", "type: webhook\nsettings: {url: https://x.test}\n")
	if _, diags := config.Load(dir, config.Options{}); diags.Err() == nil || !strings.Contains(diags.Error(), "defaults.delivery") {
		t.Fatalf("a destination inheriting the 4h default against 15m was accepted: %v", diags)
	}
}
