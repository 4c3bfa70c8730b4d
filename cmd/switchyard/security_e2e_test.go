package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The binary, driven as an operator would, with canary secrets in its
// environment: none of them may show in anything it prints, serves or
// stores.

var (
	e2eCanaryAPI   = "sk_canary_e2e_5c8d1f0a7b"
	e2eCanaryTool  = "sk_canary_e2e_tool_93e1a4"
	e2eCanaryHook  = "whsec_" + base64.StdEncoding.EncodeToString([]byte("e2e-canary-signing-key-1234"))
	e2eAdminToken  = "adm_canary_e2e_2718281828"
	e2eNATSToken   = "nats_canary_e2e_1414213562"
	e2eCanaryNames = []string{"Ok", "Bad", "Down", "Straddle"}
)

func e2eCanaries() []string {
	var out []string
	for _, s := range []string{e2eCanaryAPI, e2eCanaryTool, strings.TrimPrefix(e2eCanaryHook, "whsec_"), e2eAdminToken, e2eNATSToken} {
		out = append(out, s, s[:9])
	}
	return out
}

func assertNoE2ECanary(t *testing.T, where, text string) {
	t.Helper()
	for _, c := range e2eCanaries() {
		if i := strings.Index(text, c); i >= 0 {
			t.Errorf("%s: the canary %q leaked: …%s…", where, c, text[max(0, i-80):min(len(text), i+len(c)+40)])
			return
		}
	}
}

// echoServer answers with the request it got (headers, query, body); the
// status follows the event name: Bad 400, Down 500, Straddle 400 with the
// request's key across the 1 KiB excerpt's end, else 200.
func echoServer(t *testing.T) (*httptest.Server, func() string) {
	var mu sync.Mutex
	var seen strings.Builder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echo, _ := json.Marshal(map[string]any{"headers": r.Header, "query": r.URL.RawQuery, "body": string(body)})
		mu.Lock()
		seen.Write(echo)
		mu.Unlock()
		s := string(body)
		switch {
		case strings.Contains(s, "Straddle"):
			key := ""
			for _, c := range []string{e2eCanaryAPI, e2eCanaryTool} {
				if strings.Contains(string(echo), c) {
					key = c
				}
			}
			w.WriteHeader(400)
			_, _ = io.WriteString(w, strings.Repeat("x", 1024-12)+key+string(echo))
		case strings.Contains(s, "Bad"):
			w.WriteHeader(400)
			_, _ = w.Write(echo)
		case strings.Contains(s, "Down"):
			w.WriteHeader(500)
			_, _ = w.Write(echo)
		default:
			_, _ = fmt.Fprintf(w, `{"message":"success","echo":%s}`, echo)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() string { mu.Lock(); defer mu.Unlock(); return seen.String() }
}

func TestCanarySecretsAppearNowhereInTheBinarysOutput(t *testing.T) {
	t.Setenv("CANARY_API_KEY", e2eCanaryAPI)
	t.Setenv("CANARY_TOOL_KEY", e2eCanaryTool)
	t.Setenv("CANARY_HOOK_SECRET", e2eCanaryHook)
	t.Setenv("ADMIN_TOKEN", e2eAdminToken)
	t.Setenv("NATS_TOKEN", e2eNATSToken)
	echo, seen := echoServer(t)
	natsPort, adminPort := freePort(t), freePort(t)
	delivery := "delivery:\n  attempts: 2\n  retry_window: 1s\n  backoff: {initial: 100ms, max: 200ms}\n  breaker: {failures: 1000}\n  batch: {disabled: true}\n"
	dir := writeConfig(t, fmt.Sprintf(`nats:
  embedded:
    listen: 127.0.0.1:%d
    token: ${NATS_TOKEN}
admin:
  listen: 127.0.0.1:%d
  token: ${ADMIN_TOKEN}
log:
  level: debug
`, natsPort, adminPort), map[string]string{
		"api": fmt.Sprintf(`type: http
settings:
  api_key: ${CANARY_API_KEY}
actions:
  send:
    url: '%s/api/{{ event }}?k={{ settings.api_key }}'
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      event: event
      key: settings.api_key
`, echo.URL) + delivery,
		"braze": fmt.Sprintf("type: braze\nsettings:\n  api_key: ${CANARY_TOOL_KEY}\n  endpoint: %s/braze\npresets: [track]\n", echo.URL) + delivery,
		"hook":  fmt.Sprintf("type: webhook\nsettings:\n  url: %s/hook\n  secret: ${CANARY_HOOK_SECRET}\n", echo.URL) + delivery,
	})
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)

	var lines []string
	for i, name := range e2eCanaryNames {
		lines = append(lines, fmt.Sprintf(`{"type":"track","messageId":"e-%d","userId":"u-1","event":%q,"properties":{"n":%d}}`, i, name, i))
	}
	eventsFile := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(eventsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Collectors need the embedded server's token.
	if nc, err := nats.Connect(in.nats); err == nil {
		nc.Close()
		t.Fatal("the embedded server let a client in without its token")
	}
	out, code := runCLI(t, "publish", "--config", dir, "--source", "web", eventsFile)
	if code != 0 {
		t.Fatalf("publish (exit %d):\n%s", code, out)
	}
	var outputs strings.Builder
	outputs.WriteString(out)
	waitUntil(t, 30*time.Second, func() bool {
		m := in.metrics()
		return settledOf(m["api"]) == 4 && settledOf(m["braze"]) == 4 && settledOf(m["hook"]) == 4
	}, func() string { return fmt.Sprintf("%v\n%s", in.metrics(), in.out.String()) })
	m := in.metrics()
	for _, d := range []string{"api", "braze", "hook"} {
		if m[d]["delivered"] != 1 || m[d]["dead_lettered"] != 3 {
			t.Errorf("%s: %v", d, m[d])
		}
	}
	if s := seen(); !strings.Contains(s, e2eCanaryAPI) || !strings.Contains(s, e2eCanaryTool) {
		t.Fatal("the secrets never reached the tool: the test proves nothing")
	}

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", in.admin+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, metrics := get("/metrics", "")
	outputs.WriteString(metrics)
	for _, d := range []string{"api", "braze", "hook"} {
		for _, tok := range []string{"", "wrong"} {
			if code, _ := get("/debug/deliveries?destination="+d, tok); code != 401 {
				t.Errorf("/debug/deliveries with token %q: %d, want 401", tok, code)
			}
		}
		code, body := get("/debug/deliveries?destination="+d, e2eAdminToken)
		if code != 200 || !strings.Contains(body, "[REDACTED]") {
			t.Errorf("/debug/deliveries %s: %d\n%s", d, code, body)
		}
		outputs.WriteString(body)
		// The console shows the same samples, the config as loaded, the
		// dead letters and previews of them.
		for _, p := range []string{"/", "/destinations/" + d, "/destinations/" + d + "/dlq", "/api/destinations/" + d,
			"/api/destinations/" + d + "/dlq", "/destinations/" + d + "/preview?seq=1"} {
			if code, _ := get(p, ""); code != 401 {
				t.Errorf("console %s without the token: %d, want 401", p, code)
			}
			code, body := get(p, e2eAdminToken)
			if code != 200 {
				t.Errorf("console %s: %d\n%s", p, code, body)
			}
			outputs.WriteString(body)
		}
		runs := [][]string{
			{"dlq", "list", "--json", "--config", dir, "--destination", d},
			{"preview", "--json", "--config", dir, "--destination", d, eventsFile},
			{"preview", "--send", "--config", dir, "--destination", d, eventsFile},
		}
		if d == "api" {
			runs = append(runs,
				[]string{"dlq", "list", "--config", dir, "--destination", d},
				[]string{"preview", "--config", dir, "--destination", d, eventsFile},
				[]string{"preview", "--send", "--json", "--config", dir, "--destination", d, eventsFile},
				// Replayed entries fail again and are written anew.
				[]string{"dlq", "replay", "--config", dir, "--destination", d},
				[]string{"dlq", "list", "--json", "--config", dir, "--destination", d})
		}
		for _, args := range runs {
			out, _ := runCLI(t, args...)
			// (The webhook's secret signs; it is in no request to redact.)
			if !strings.Contains(out, "[REDACTED]") && args[0] == "preview" && d != "hook" {
				t.Errorf("%v: no redaction shown:\n%s", args, out)
			}
			if args[0] == "dlq" && args[1] == "list" && !strings.Contains(out, "e-3") {
				t.Errorf("%v: the Straddle entry is missing:\n%s", args, out)
			}
			outputs.WriteString(strings.Join(args, " ") + "\n" + out)
		}
	}
	out, _ = runCLI(t, "validate", "--config", dir)
	outputs.WriteString(out)
	in.stop()
	outputs.WriteString(in.out.String()) // every log line, at debug level
	if !strings.Contains(in.out.String(), "level=DEBUG") && !strings.Contains(in.out.String(), "dead-lettered") {
		t.Errorf("the logs are not at debug level:\n%s", in.out.String())
	}
	assertNoE2ECanary(t, "the binary's output", outputs.String())
}

// The admin listener binds to loopback when admin.listen is not set.
func TestAdminListenerBindsLoopbackByDefault(t *testing.T) {
	if l, err := net.Listen("tcp", "127.0.0.1:8088"); err != nil {
		t.Skip("127.0.0.1:8088 is taken on this machine")
	} else {
		l.Close()
	}
	natsPort := freePort(t)
	dir := writeConfig(t, fmt.Sprintf("nats:\n  embedded:\n    listen: 127.0.0.1:%d\n", natsPort), nil)
	in := startBinary(t, dir, t.TempDir(), natsPort, 8088)
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		tried++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), "8088"), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("the admin listener answers on %s", ipn.IP)
		}
	}
	if tried == 0 {
		t.Log("no non-loopback IPv4 address to try")
	}
	if !strings.Contains(in.out.String(), "127.0.0.1:8088") {
		t.Errorf("the log does not say where admin listens:\n%s", in.out.String())
	}
	in.stop()
}
