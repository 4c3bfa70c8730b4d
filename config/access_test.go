package config_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// The embedded NATS server listens beyond loopback only with a token, or
// when the operator says allow_remote: true.
func TestEmbeddedListenBeyondLoopbackNeedsAuthOrAllowRemote(t *testing.T) {
	const refused = "the embedded NATS server would listen beyond loopback"
	for _, c := range []struct {
		global string
		ok     bool
	}{
		{"nats:\n  embedded:\n    listen: 0.0.0.0:4222\n", false},
		{"nats:\n  embedded:\n    listen: '[::]:4222'\n", false},
		{"nats:\n  embedded:\n    listen: 10.1.2.3:4222\n", false},
		{"nats:\n  embedded:\n    listen: :4222\n", false}, // every interface
		{"nats:\n  embedded:\n    listen: 0.0.0.0:4222\n    token: ${EMBEDDED_TOKEN}\n", true},
		{"nats:\n  embedded:\n    listen: 0.0.0.0:4222\n    allow_remote: true\n", true},
		{"nats:\n  embedded:\n    listen: 127.0.0.1:4222\n", true},
		{"nats:\n  embedded:\n    listen: '[::1]:4222'\n", true},
		{"nats:\n  embedded:\n    listen: localhost:4222\n", true},
		// With a url the embedded server does not run.
		{"nats:\n  url: nats://n1:4222\n  embedded:\n    listen: 0.0.0.0:4222\n", true},
		{"", true},
	} {
		dir := writeDir(t, c.global, nil)
		_, diags := config.Load(dir, config.Options{Lookup: func(string) (string, bool) { return "t0ken", true }})
		got := diags.Error()
		if c.ok == strings.Contains(got, refused) {
			t.Errorf("%q: ok=%v, diagnostics:\n%s", c.global, c.ok, got)
		}
		if !c.ok && !strings.Contains(got, "switchyard.yaml:3:13: ") {
			t.Errorf("%q: not at the listen key:\n%s", c.global, got)
		}
	}
}
