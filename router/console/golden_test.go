package console_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The JSON API, pinned: each endpoint's answer for the failing world,
// compared with testdata/<name>.golden.json. What varies from run to run
// (times, durations, latencies, rates, the tools' ports, gauges the lanes
// refresh on their own clock) is replaced by a placeholder; every count,
// state, reason, sample and config is compared. Rewrite with -update.

// volatile keys: their value is replaced by "<volatile>" when not null.
var volatile = map[string]bool{
	"time": true, "failedAt": true, "firstAttempt": true, "durationMs": true,
	"coveredSeconds": true, "eventsPerSecond": true, "p95LatencyMs": true,
	"breakerWaitSeconds": true, "oldestUnackedSeconds": true, "lag": true, "inFlight": true,
	"series": true, "id": true,
}

var (
	probeIn = regexp.MustCompile(`probes again in [0-9hms ]+`)
	nsTime  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
)

func normalize(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if volatile[k] && e != nil {
				x[k] = "<volatile>"
				continue
			}
			x[k] = normalize(e, k)
		}
		if samples, ok := x["samples"].([]any); ok {
			// Samples of one reason that happened together come in either
			// order.
			sort.SliceStable(samples, func(i, j int) bool { return sampleKey(samples[i]) < sampleKey(samples[j]) })
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e, key)
		}
		return x
	case string:
		return probeIn.ReplaceAllString(nsTime.ReplaceAllString(x, "<time>"), "probes again in <wait>")
	}
	return v
}

func sampleKey(v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["messageId"].(string)
	return id
}

func golden(t *testing.T, name string, body []byte, replace ...string) {
	t.Helper()
	s := string(body)
	for i := 0; i+1 < len(replace); i += 2 {
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, body)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(normalize(v, "")))
	got := out.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run with -update after checking the change):\n%s", name, path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ, with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}

func TestJSONAPIGolden(t *testing.T) {
	const token = "golden-token"
	w, crm, hook := failingWorld(t, token)
	repl := []string{crm.URL, "http://crm.tool", hook.URL, "http://hook.tool", w.dir, "<config>"}
	bearer := []string{"Authorization", "Bearer " + token}
	for _, c := range []struct{ name, path string }{
		{"overview", "/api/"},
		{"overview-1h", "/api/?window=1h"},
		{"destination-crm", "/api/destinations/crm"},
		{"destination-legacy", "/api/destinations/legacy"},
		{"dlq-crm", "/api/destinations/crm/dlq"},
		{"preview-crm-dead-letter", "/api/destinations/crm/preview?seq=1"},
		{"not-found", "/api/destinations/nope"},
	} {
		code, hdr, body := w.get(c.path, bearer...)
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", c.path, code, hdr.Get("Content-Type"))
		}
		if strings.Contains(body, "sk-console-canary") {
			t.Fatalf("%s: the secret is in the JSON", c.path)
		}
		golden(t, c.name, []byte(body), repl...)
		// The same page as HTML renders too.
		want := 200
		if c.name == "not-found" {
			want = 404
		}
		if code, _, page := w.get(strings.TrimPrefix(c.path, "/api"), bearer...); code != want || !strings.HasPrefix(page, "<!doctype html>") {
			t.Errorf("%s as HTML: %d\n%s", c.path, code, page)
		}
	}

	// A pasted event, previewed for a script.
	req, _ := http.NewRequest("POST", w.admin.URL+"/api/destinations/crm/preview?source=web",
		strings.NewReader(`{"type":"track","userId":"user-1001","event":"Bad","messageId":"pasted-1","properties":{"plan":"team"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bearer[0], bearer[1])
	_, _, body := do(t, req)
	golden(t, "preview-crm-pasted", []byte(body), repl...)
	if crm.count() != 3 {
		t.Errorf("the previews sent requests: the tool saw %d, want the 3 of the scenario", crm.count())
	}

	// The replay's report, for a script: the tool is fixed, the dead
	// letter delivered and removed.
	crm.setRespond(func(string, []byte) (int, string) { return 200, `{"ok":true}` })
	req, _ = http.NewRequest("POST", w.admin.URL+"/api/destinations/crm/dlq/replay", strings.NewReader(`{"seqs":[1]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bearer[0], bearer[1])
	_, _, body = do(t, req)
	golden(t, "replay-crm", []byte(body), repl...)
	if got := crm.accepted(); len(got) != 1 || got[0] != "bad-1" {
		t.Errorf("the replay delivered %v, want [bad-1]", got)
	}
}
