package router_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// Canary secrets, planted through ${ENV} settings: an http destination's
// key (in a header, the body and the query string), a catalog tool's
// secret setting, and a webhook signing secret.
var (
	canaryAPI  = "sk_canary_7f3a9c51d2e84b06"
	canaryTool = "sk_canary_tool_0b5e2d7c9a13"
	canaryHook = "whsec_" + base64.StdEncoding.EncodeToString([]byte("canary-webhook-signing-key-42!"))
)

// canaries are what must appear nowhere: each secret and the first 8
// characters of it (a secret cut at an excerpt's end is still a leak).
func canaries() []string {
	var out []string
	for _, s := range []string{canaryAPI, canaryTool, strings.TrimPrefix(canaryHook, "whsec_")} {
		out = append(out, s, s[:8])
	}
	return out
}

func assertNoCanary(t *testing.T, where, text string) {
	t.Helper()
	for _, c := range canaries() {
		if i := strings.Index(text, c); i >= 0 {
			t.Errorf("%s: the canary %q leaked: …%s…", where, c, text[max(0, i-80):min(len(text), i+len(c)+40)])
			return
		}
	}
}

// echoTool answers with what it was sent, headers and body: a tool whose
// error responses quote the request, secrets and all. The status follows
// the event's name: Bad 400, Down 500, Straddle 400 with the request's
// key placed across the 1 KiB excerpt's end, anything else 200.
func echoTool(t *testing.T) (*httptest.Server, *strings.Builder) {
	seen := &strings.Builder{}
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echo, _ := json.Marshal(map[string]any{"headers": r.Header, "query": r.URL.RawQuery, "body": string(body)})
		mu <- struct{}{}
		fmt.Fprintf(seen, "%s %s\n%s\n", r.URL, r.Header, body)
		<-mu
		s := string(body)
		switch {
		case strings.Contains(s, "Straddle"):
			// The secret this request carried, if any, placed so that the
			// excerpt ends in its first 10 characters.
			key := ""
			for _, c := range []string{canaryAPI, canaryTool} {
				if strings.Contains(string(echo), c) {
					key = c
				}
			}
			w.WriteHeader(400)
			_, _ = io.WriteString(w, strings.Repeat("x", 1024-10)+key+string(echo))
		case strings.Contains(s, "Bad"):
			w.WriteHeader(400)
			_, _ = w.Write(echo)
		case strings.Contains(s, "Down"):
			w.WriteHeader(500)
			_, _ = w.Write(echo)
		default:
			w.WriteHeader(200)
			_, _ = fmt.Fprintf(w, `{"message":"success","echo":%s}`, echo)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

const canaryDelivery = `
delivery:
  attempts: 2
  retry_window: 1s
  backoff: {initial: 100ms, max: 200ms}
  breaker: {failures: 1000}
  batch: {disabled: true}
`

func canaryDests(url string) map[string]string {
	return map[string]string{
		"api": fmt.Sprintf(`type: http
settings:
  api_key: ${CANARY_API_KEY}
actions:
  send:
    url: '%s/api/{{ event }}?k={{ settings.api_key }}'
    headers:
      Authorization: Bearer {{ settings.api_key }}
      X-Debug: '{{ "key=" + settings.api_key }}'
    fields:
      event: event
      key: settings.api_key
      id: messageId
`, url) + canaryDelivery,
		"braze": fmt.Sprintf(`type: braze
settings:
  api_key: ${CANARY_TOOL_KEY}
  endpoint: %s/braze
presets: [track]
`, url) + canaryDelivery,
		"hook": fmt.Sprintf(`type: webhook
settings:
  url: %s/hook
  secret: ${CANARY_HOOK_SECRET}
`, url) + canaryDelivery,
	}
}

func TestCanarySecretsAppearNowhere(t *testing.T) {
	t.Setenv("CANARY_API_KEY", canaryAPI)
	t.Setenv("CANARY_TOOL_KEY", canaryTool)
	t.Setenv("CANARY_HOOK_SECRET", canaryHook)
	srv, seen := echoTool(t)
	e := newEnv(t, "log:\n  level: debug\n", canaryDests(srv.URL))
	r := e.start()
	events := []string{"Ok", "Bad", "Down", "Straddle"}
	for i, name := range events {
		e.publish("web", track(fmt.Sprintf("c-%d", i), "u-1", name, map[string]any{"n": i}))
	}
	for _, d := range []string{"api", "braze", "hook"} {
		e.waitSettled(d, len(events), 20*time.Second)
		if e.count(d, router.Delivered) != 1 || e.count(d, router.DeadLettered) != 3 {
			t.Errorf("%s: %s (want 1 delivered, 3 dead-lettered)", d, e.outcomes(d))
		}
	}
	// The test means something only if the tools got the secrets and
	// echoed them back.
	if s := seen.String(); !strings.Contains(s, canaryAPI) || !strings.Contains(s, canaryTool) {
		t.Fatal("the secrets never reached the tool")
	}

	// The DLQ: every byte of every entry, data and headers.
	var dlq strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.js.OrderedConsumer(ctx, router.DLQStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"dlq.>"}})
	must(t, err)
	entries := 0
	for {
		batch, err := c.FetchNoWait(100)
		must(t, err)
		n := 0
		for m := range batch.Messages() {
			n++
			fmt.Fprintf(&dlq, "%s\n%s\n", m.Data(), m.Headers())
			if resp := m.Headers().Get(router.HeaderResponse); len(resp) > 1024 {
				t.Errorf("DLQ response excerpt of %d bytes", len(resp))
			}
		}
		entries += n
		if n == 0 {
			break
		}
	}
	if entries != 9 || !strings.Contains(dlq.String(), plan.Redacted) {
		t.Errorf("%d dead letters, redacted: %v", entries, strings.Contains(dlq.String(), plan.Redacted))
	}
	assertNoCanary(t, "DLQ", dlq.String())
	if !strings.Contains(dlq.String(), "x"+plan.Redacted) {
		t.Error("the key cut at the excerpt's end was not redacted")
	}

	// Logs at debug level, /metrics, and /debug/deliveries.
	assertNoCanary(t, "logs", e.logs.String())
	admin := httptest.NewServer(r.AdminHandler("admin-token"))
	defer admin.Close()
	get := func(path string, auth bool) string {
		req, _ := http.NewRequest("GET", admin.URL+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer admin-token")
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if auth && resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	assertNoCanary(t, "/metrics", get("/metrics", false))
	for _, d := range []string{"api", "braze", "hook"} {
		if get("/debug/deliveries?destination="+d, false) == get("/debug/deliveries?destination="+d, true) {
			t.Errorf("/debug/deliveries answers without the token")
		}
		body := get("/debug/deliveries?destination="+d, true)
		assertNoCanary(t, "/debug/deliveries "+d, body)
		if !strings.Contains(body, plan.Redacted) {
			t.Errorf("%s: no redaction in the samples: the test proves nothing", d)
		}
	}

	// Preview and preview --send, every event, every destination.
	_, plans := e.load()
	for name, p := range plans {
		for i, ev := range events {
			raw, _ := json.Marshal(track(fmt.Sprintf("p-%d", i), "u-1", ev, nil))
			pv, _ := json.Marshal(p.Preview(raw, plan.PreviewOptions{Source: "web"}))
			assertNoCanary(t, "preview "+name+" "+ev, string(pv))
			sent, pve, err := dispatch.SendOnce(context.Background(), p, raw, "web")
			must(t, err)
			out, _ := json.Marshal(map[string]any{"sent": sent, "preview": pve})
			assertNoCanary(t, "preview --send "+name+" "+ev, string(out))
		}
	}
	assertNoCanary(t, "logs after preview", e.logs.String())
}

// A secret with characters that JSON or a URL escape is redacted in those
// forms too, and one cut at an excerpt's end is redacted from its cut.
func TestRedactorCatchesEscapedAndCutSecrets(t *testing.T) {
	secret := `p"a&ss/w rd+<1>`
	r := plan.NewRedactor(secret)
	body, _ := json.Marshal(map[string]string{"key": secret})
	var noHTML strings.Builder
	enc := json.NewEncoder(&noHTML)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"key": secret})
	for _, text := range []string{
		secret, string(body), noHTML.String(),
		"https://x.test/k/" + url.PathEscape(secret) + "?k=" + url.QueryEscape(secret),
	} {
		if got := r.String(text); strings.Contains(got, "ss/w") || strings.Contains(got, "ss%2Fw") || !strings.Contains(got, plan.Redacted) {
			t.Errorf("%q redacted as %q", text, got)
		}
	}
	for n := 4; n < len(secret); n++ {
		if got := r.Excerpt("answer: " + secret[:n]); got != "answer: "+plan.Redacted {
			t.Errorf("cut after %d: %q", n, got)
		}
	}
	if got := r.Excerpt("answer: p\"a"); got != "answer: p\"a" {
		t.Errorf("three characters are not a secret: %q", got)
	}
	if got := (*plan.Redactor)(nil).Excerpt("x"); got != "x" {
		t.Errorf("nil redactor: %q", got)
	}
}

// Secrets come from ${ENV} only: a credential-looking setting of an http
// destination, or a credential header of a webhook, written as a value is
// flagged (catalog secrets and webhook secrets written so are refused).
func TestCredentialsWrittenAsValuesAreFlagged(t *testing.T) {
	t.Setenv("FROM_ENV", "sk_env_0123456789")
	for dest, want := range map[string]string{
		"type: http\nsettings:\n  api_key: sk_live_literal\n  base_url: https://x.test\nactions:\n  a: {url: https://x.test, fields: {a: 1}}\n": "settings.api_key",
		"type: webhook\nsettings:\n  url: https://x.test\n  headers:\n    X-Api-Token: literal-token\n    X-Team: data\n":                       "header X-Api-Token",
		"type: http\nsettings:\n  api_key: ${FROM_ENV}\nactions:\n  a: {url: https://x.test, fields: {a: 1}}\n":                                 "",
	} {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "destinations", "d.yaml"), []byte(dest), 0o644))
		cfg, diags := config.Load(dir, config.Options{})
		must(t, diags.Err())
		_, bd := plan.Build(cfg)
		if bd.Err() != nil {
			t.Fatalf("a warning must not fail the build: %v", bd)
		}
		w := bd.Warnings().Error()
		if want == "" && strings.Contains(w, "credential") || want != "" && (!strings.Contains(w, want) || !strings.Contains(w, "${ENV}")) {
			t.Errorf("%s: warnings %q, want one naming %q", dest, w, want)
		}
	}
}

// A config error quoting a value from the environment redacts it: a
// webhook URL (Slack's carry their token) that does not parse.
func TestValidateRedactsValuesFromTheEnvironment(t *testing.T) {
	t.Setenv("HOOK_URL", "hooks.example.com/services/T0/B0/sk_canary_url_token_1234")
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "destinations", "d.yaml"), []byte("type: webhook\nsettings:\n  url: ${HOOK_URL}\n"), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	must(t, diags.Err())
	_, bd := plan.Build(cfg)
	if bd.Err() == nil || !strings.Contains(bd.Error(), "d.yaml:3:8: ") || !strings.Contains(bd.Error(), "is not an http(s) URL") {
		t.Fatalf("diagnostics: %v", bd)
	}
	if strings.Contains(bd.Error(), "sk_canary_url") {
		t.Errorf("the URL's token is in the error: %v", bd)
	}
}
