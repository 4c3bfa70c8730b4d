package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var regulationID = regexp.MustCompile(`regulation (rg-[0-9a-z]+-[0-9a-f]+) recorded`)

// An operator suppresses a user from the CLI while serve runs: their
// events stop reaching the destination (filtered), others' flow; the
// intake does not even store them; a deletion reaches the webhook as
// delete events, its status is shown per destination; unsuppress resumes;
// a file of users is bounded; the admin API answers the same.
func TestRegulateFromTheCLI(t *testing.T) {
	rec := newRecorder(t)
	natsPort, adminPort, ingestPort := freePort(t), freePort(t), freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`nats:
  embedded:
    listen: 127.0.0.1:%d
admin:
  listen: 127.0.0.1:%d
  token: ${ADMIN_TOKEN}
sources:
  - name: web
    write_keys: [wk-test]
ingest:
  enabled: true
  listen: 127.0.0.1:%d
`, natsPort, adminPort, ingestPort), map[string]string{
		"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/hook\ndelivery:\n  backoff: {initial: 100ms, max: 300ms}\n", rec.URL),
		"chat": "type: slack\nsettings:\n  webhook_url: https://hooks.slack.com/services/T/B/${SLACK_TOKEN}\n  events: Never\nenabled: false\n",
	})
	t.Setenv("ADMIN_TOKEN", "adm")
	t.Setenv("SLACK_TOKEN", "x")
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)

	out, code := runCLI(t, "regulate", "suppress", "--config", dir, "--user", "u-gone", "--anonymous-id", "a-gone", "--reason", "ticket 12")
	m := regulationID.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "suppress of 1 user at every destination") {
		t.Fatalf("regulate suppress (exit %d):\n%s", code, out)
	}
	supp := m[1]
	// The router's watch takes it within moments; an event published right
	// after may still race it, so the test waits for a probe to be filtered.
	waitUntil(t, 10*time.Second, func() bool {
		publish(t, in.nats, "events.web", fmt.Sprintf(`{"type":"track","messageId":"probe-%d","userId":"u-gone","event":"P"}`, time.Now().UnixNano()))
		return in.reasons()["hook"]["filtered/suppressed"] > 0
	}, func() string { return fmt.Sprint(in.reasons()) })
	// Probes sent before the watch caught up may have been delivered: what
	// follows counts from here.
	base, settled := in.reasons()["hook"], settledOf(in.metrics()["hook"])
	delta := func(k string) int { return in.reasons()["hook"][k] - base[k] }
	publish(t, in.nats, "events.web",
		`{"type":"track","messageId":"s-1","userId":"u-gone","event":"A"}`,
		`{"type":"page","messageId":"s-2","anonymousId":"a-gone","name":"Home"}`,
		`{"type":"track","messageId":"s-3","userId":"u-kept","event":"A"}`)
	waitUntil(t, 20*time.Second, func() bool { return settledOf(in.metrics()["hook"]) == settled+3 }, func() string { return fmt.Sprint(in.metrics()) })
	if delta("filtered/suppressed") != 2 || delta("delivered/ok") != 1 {
		t.Errorf("after suppress: %v, before %v", in.reasons()["hook"], base)
	}
	// The intake answers 200 and stores nothing of them.
	if code := postIntake(t, ingestPort, `{"batch":[{"type":"track","userId":"u-gone","event":"B","messageId":"i-1"},{"type":"track","userId":"u-kept","event":"B","messageId":"i-2"}]}`); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	waitUntil(t, 20*time.Second, func() bool { return delta("delivered/ok") == 2 }, func() string { return fmt.Sprint(in.reasons()) })
	if settledOf(in.metrics()["hook"]) != settled+4 {
		t.Errorf("the intake stored the suppressed user's event: %v", in.metrics()["hook"])
	}
	for _, q := range rec.all() {
		for _, id := range []string{`"s-1"`, `"s-2"`, `"i-1"`} {
			if bytes.Contains(q.Body, []byte(id)) {
				t.Fatalf("the tool got the suppressed user: %s", q.Body)
			}
		}
	}

	// A deletion of users from a file, shown per destination.
	users := filepath.Join(t.TempDir(), "users.txt")
	must(t, os.WriteFile(users, []byte("# export of ticket 13\nu-d1\n\n{\"userId\":\"u-d2\",\"email\":\"d2@example.com\"}\n"), 0o644))
	out, code = runCLI(t, "regulate", "delete", "--config", dir, "--file", users)
	m = regulationID.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "delete of 2 users") {
		t.Fatalf("regulate delete (exit %d):\n%s", code, out)
	}
	del := m[1]
	out, code = runCLI(t, "regulate", "status", del, "--config", dir, "--wait", "30s")
	if code != 0 || !strings.Contains(out, del+"  delete  finished") || !regexp.MustCompile(`hook\s+finished\s+\d+\s+HTTP 200`).MatchString(out) ||
		!regexp.MustCompile(`chat\s+not_supported`).MatchString(out) {
		t.Fatalf("regulate status (exit %d):\n%s", code, out)
	}
	var deleted []string
	for _, q := range rec.all() {
		var ev map[string]any
		if json.Unmarshal(q.Body, &ev) == nil && ev["type"] == "delete" {
			deleted = append(deleted, fmt.Sprint(ev["userId"]))
		}
	}
	if fmt.Sprint(deleted) != "[u-d1 u-d2]" {
		t.Errorf("the webhook got delete events for %v", deleted)
	}

	// Bounds and mistakes, each named.
	big := filepath.Join(t.TempDir(), "big.txt")
	var b strings.Builder
	for i := range 5001 {
		fmt.Fprintf(&b, "u-%d\n", i)
	}
	must(t, os.WriteFile(big, []byte(b.String()), 0o644))
	if out, code := runCLI(t, "regulate", "delete", "--config", dir, "--file", big); code != 1 || !strings.Contains(out, "big.txt:5001: more than 5000 users") {
		t.Errorf("5,001 users (exit %d):\n%s", code, out)
	}
	if out, code := runCLI(t, "regulate", "suppress", "--config", dir, "--user", "u", "--destination", "nope"); code != 1 || !strings.Contains(out, "no destination nope (known: chat, hook)") {
		t.Errorf("unknown destination (exit %d):\n%s", code, out)
	}
	if out, code := runCLI(t, "regulate", "suppress", "--config", dir); code != 2 || !strings.Contains(out, "give --user ID or --file FILE") {
		t.Errorf("no user (exit %d):\n%s", code, out)
	}

	out, code = runCLI(t, "regulate", "list", "--config", dir)
	if code != 0 || !strings.Contains(out, supp) || !strings.Contains(out, del) || strings.Index(out, del) > strings.Index(out, supp) {
		t.Errorf("regulate list (newest first, exit %d):\n%s", code, out)
	}
	// The admin API, behind admin.token.
	req, _ := http.NewRequest("GET", in.admin+"/v1/regulations/"+supp, nil)
	req.Header.Set("Authorization", "Bearer adm")
	r, err := http.DefaultClient.Do(req)
	must(t, err)
	var rep map[string]any
	_ = json.NewDecoder(r.Body).Decode(&rep)
	r.Body.Close()
	if r.StatusCode != 200 || rep["status"] != "finished" || rep["reason"] != "ticket 12" || !strings.Contains(fmt.Sprint(rep["requestedBy"]), "(CLI)") {
		t.Errorf("GET /v1/regulations/%s: %d %v", supp, r.StatusCode, rep)
	}

	out, code = runCLI(t, "regulate", "unsuppress", "--config", dir, "--user", "u-gone", "--anonymous-id", "a-gone")
	if code != 0 {
		t.Fatalf("regulate unsuppress (exit %d):\n%s", code, out)
	}
	waitUntil(t, 10*time.Second, func() bool {
		publish(t, in.nats, "events.web", fmt.Sprintf(`{"type":"track","messageId":"back-%d","userId":"u-gone","event":"P"}`, time.Now().UnixNano()))
		for _, q := range rec.all() {
			if bytes.Contains(q.Body, []byte(`"userId":"u-gone"`)) {
				return true
			}
		}
		return false
	}, func() string { return "the unsuppressed user's events never came back" })
	in.stop()
}

func postIntake(t *testing.T, port int, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/v1/batch", port), strings.NewReader(body))
	req.SetBasicAuth("wk-test", "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

var reasonLine = regexp.MustCompile(`^switchyard_event_reasons_total\{destination="([^"]+)",outcome="([^"]+)",reason="([^"]+)"\} (\S+)$`)

// reasons reads switchyard_event_reasons_total as outcome/reason counts.
func (in *instance) reasons() map[string]map[string]int {
	in.t.Helper()
	resp, err := http.Get(in.admin + "/metrics")
	must(in.t, err)
	defer resp.Body.Close()
	out := map[string]map[string]int{}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if m := reasonLine.FindStringSubmatch(line); m != nil {
			if out[m[1]] == nil {
				out[m[1]] = map[string]int{}
			}
			var v float64
			if _, err := fmt.Sscan(m[4], &v); err != nil {
				in.t.Fatalf("metric value %q: %v", m[4], err)
			}
			out[m[1]][m[2]+"/"+m[3]] = int(v)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// preview says what each gate did: the consent category missing, the
// fields removed.
func TestPreviewShowsTheGates(t *testing.T) {
	dir := writeConfig(t, "", map[string]string{
		"hook": "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nconsent:\n  categories: [Marketing, Analytics]\nblock_fields: [context.ip]\n",
	})
	events := filepath.Join(t.TempDir(), "events.ndjson")
	must(t, os.WriteFile(events, []byte(`{"type":"track","messageId":"e-1","userId":"u","event":"A","context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"Marketing":true,"Analytics":true}}}}
{"type":"track","messageId":"e-2","userId":"u","event":"A","context":{"consent":{"categoryPreferences":{"Marketing":true}}}}
`), 0o644))
	out, code := runCLI(t, "preview", "--config", dir, "--destination", "hook", events)
	for _, want := range []string{
		"▸ consent passed: context.consent.categoryPreferences consents to Marketing, Analytics",
		"▸ block_fields changed: removed context.ip",
		"· filtered: no consent for Analytics (missing) in context.consent.categoryPreferences",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview (exit %d) does not say %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "1.2.3.4") {
		t.Error("the preview shows the blocked field")
	}
	out, _ = runCLI(t, "preview", "--config", dir, "--destination", "hook", "--json", events)
	if !strings.Contains(out, `"gates":[{"gate":"consent","result":"dropped"`) {
		t.Errorf("preview --json lines carry no gates:\n%s", out)
	}
}
