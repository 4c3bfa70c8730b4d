package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// preview on the quickstart: reasons for what did not match, the exact
// requests with secrets redacted, and the pinned --json shape.
func TestPreviewShowsRequestsReasonsAndRedacts(t *testing.T) {
	qs := filepath.Join("..", "..", "examples", "quickstart")
	events := filepath.Join(qs, "events.ndjson")
	out, code := runCLI(t, "preview", "--config", qs, "--destination", "crm", events)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"event #1 qs-identify-1\n  ✓ profile\n  · purchase: trigger is false: type == \"track\" && event == \"Order Completed\"",
		"PUT http://127.0.0.1:9000/crm/profiles/user-42",
		"Authorization: [REDACTED]",
		`"currency": "EUR"`,
		"event #3 qs-page-1\n  · unmatched: no action's trigger matches",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo-key-not-secret") {
		t.Error("preview shows the api key")
	}

	out, code = runCLI(t, "preview", "--config", qs, "--destination", "crm", "--json", events)
	if code != 0 {
		t.Fatalf("--json exit %d:\n%s", code, out)
	}
	// One line per (event, action): requests with the pinned fields, and
	// every action that sent nothing with its reason.
	n, other := 0, 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if r["status"] != "request" {
			other++
			if r["reason"] == nil && r["error"] == nil {
				t.Errorf("--json line without a reason: %s", line)
			}
			continue
		}
		for _, k := range []string{"event", "action", "method", "url", "headers", "body"} {
			if _, ok := r[k]; !ok {
				t.Errorf("--json object lacks %q: %s", k, line)
			}
		}
		n++
	}
	if n != 3 || other == 0 {
		t.Errorf("--json printed %d requests and %d other lines, want 3 (a profile and two purchases) and the skipped actions", n, other)
	}

	// --send sends once for real and prints the answer.
	rec := newRecorder(t)
	dir, _, _ := quickstartCopy(t, rec.URL, "")
	out, code = runCLI(t, "preview", "--config", dir, "--destination", "crm", "--send", filepath.Join(dir, "events.ndjson"))
	if code != 0 || strings.Count(out, "← 200") != 3 || len(rec.all()) != 3 {
		t.Errorf("--send: exit %d, %d requests at the tool:\n%s", code, len(rec.all()), out)
	}
}

func TestCatalogCommandListsAndDescribesTools(t *testing.T) {
	out, code := runCLI(t, "catalog")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, tool := range []string{"braze", "customerio", "iterable", "klaviyo", "sendgrid", "mailchimp", "onesignal", "fcm", "airship", "amplitude", "mixpanel", "ga4", "slack", "webhook", "http"} {
		if !strings.Contains(out, "\n"+tool+" ") {
			t.Errorf("catalog does not list %s:\n%s", tool, out)
		}
	}
	out, code = runCLI(t, "catalog", "klaviyo")
	if code != 0 || !strings.Contains(out, "### Settings") || !strings.Contains(out, "#### order_completed") || !strings.Contains(out, "| tool field |") {
		t.Errorf("catalog klaviyo (exit %d):\n%s", code, out)
	}
	if out, code = runCLI(t, "catalog", "nosuchtool"); code != 1 || !strings.Contains(out, "unknown tool") {
		t.Errorf("unknown tool: exit %d: %s", code, out)
	}
}

func TestSchemaCommandWritesWhatIsCommitted(t *testing.T) {
	dir := t.TempDir()
	if out, code := runCLI(t, "schema", "--out", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, f := range []string{"switchyard.schema.json", "destination.schema.json"} {
		got, _ := os.ReadFile(filepath.Join(dir, f))
		want, _ := os.ReadFile(filepath.Join("..", "..", "docs", "schema", f))
		if len(got) == 0 || string(got) != string(want) {
			t.Errorf("%s differs from docs/schema (run make schema)", f)
		}
	}
}

func TestDLQPurgeNeedsYes(t *testing.T) {
	rec := newRecorder(t)
	rec.fail = func(int) int { return 400 }
	natsPort, adminPort := freePort(t), freePort(t)
	dir := writeConfig(t, fmt.Sprintf("nats:\n  embedded:\n    listen: 127.0.0.1:%d\nadmin:\n  listen: 127.0.0.1:%d\n", natsPort, adminPort), map[string]string{
		"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", rec.URL),
	})
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)
	publish(t, in.nats, "events.web", trackEvents("x", 3)...)
	waitUntil(t, 10*time.Second, func() bool { return in.metrics()["hook"]["dead_lettered"] == 3 }, func() string { return fmt.Sprint(in.metrics()) })
	out, code := runCLI(t, "dlq", "purge", "--config", dir, "--destination", "hook")
	if code != 1 || !strings.Contains(out, "would delete 3 dead letter(s)") {
		t.Fatalf("purge without --yes: exit %d: %s", code, out)
	}
	out, code = runCLI(t, "dlq", "purge", "--config", dir, "--destination", "hook", "--yes")
	if code != 0 || !strings.Contains(out, "purged 3") {
		t.Fatalf("purge: exit %d: %s", code, out)
	}
	if out, _ = runCLI(t, "dlq", "list", "--config", dir, "--destination", "hook"); !strings.Contains(out, "0 dead letter(s)") {
		t.Errorf("after purge:\n%s", out)
	}
	in.stop()
}

// preview --json shows an action that fails next to one that succeeds,
// each on its own line with the reason; --fail-on-error turns any failure
// into exit 1, so a CI job can gate a config change on it.
func TestPreviewJSONShowsFailuresAndFailOnErrorGates(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("log: {level: warn}\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "destinations", "crm.yaml"), []byte(`type: http
actions:
  ok:
    url: https://crm.example.com/ok
    fields: {id: messageId}
  broken:
    url: https://crm.example.com/broken
    fields: {price: 'num(properties.price)'}
`), 0o644))
	events := filepath.Join(dir, "events.ndjson")
	must(os.WriteFile(events, []byte(`{"type":"track","messageId":"m-1","userId":"u-1","event":"E","properties":{"price":"ten"}}`+"\n"), 0o644))

	out, code := runCLI(t, "preview", "--config", dir, "--destination", "crm", "--json", events)
	if code != 0 {
		t.Fatalf("without --fail-on-error: exit %d:\n%s", code, out)
	}
	var statuses []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		statuses = append(statuses, fmt.Sprintf("%v:%v", l["action"], l["status"]))
		if l["status"] == "failed" && !strings.Contains(fmt.Sprint(l["error"]), `not a number: "ten"`) {
			t.Errorf("the failed line lacks the reason: %s", line)
		}
	}
	if got := strings.Join(statuses, " "); got != "ok:request broken:failed" {
		t.Errorf("--json lines %q, want the request and the failure", got)
	}
	out, code = runCLI(t, "preview", "--config", dir, "--destination", "crm", "--json", "--fail-on-error", events)
	if code != 1 {
		t.Errorf("--fail-on-error with a failed action: exit %d, want 1:\n%s", code, out)
	}
}
