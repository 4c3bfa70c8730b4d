package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The README's quickstart, step by step as written, against the quickstart
// config (on free ports): the curl to the intake, the nats pub, make
// publish-example, the metrics it says to expect, the requests it shows
// each destination receiving, the preview, and the dlq list of an event
// Amplitude refuses.

type readme struct {
	text   string
	blocks []string // fenced code blocks, in order
}

func readREADME(t *testing.T) readme {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := readme{text: string(b)}
	fence := regexp.MustCompile("(?ms)^```[a-z]*\n(.*?)^```\n")
	for _, m := range fence.FindAllStringSubmatch(r.text, -1) {
		r.blocks = append(r.blocks, m[1])
	}
	return r
}

// block returns the first code block holding s.
func (r readme) block(t *testing.T, s string) string {
	t.Helper()
	for _, b := range r.blocks {
		if strings.Contains(b, s) {
			return b
		}
	}
	t.Fatalf("README has no code block with %q", s)
	return ""
}

// quoted returns what the single quotes after marker enclose.
func quoted(t *testing.T, block, marker string) string {
	t.Helper()
	i := strings.Index(block, marker)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", marker, block)
	}
	rest := block[i+len(marker):]
	start := strings.IndexByte(rest, '\'')
	end := strings.IndexByte(rest[start+1:], '\'')
	if start < 0 || end < 0 {
		t.Fatalf("no quoted text after %q in:\n%s", marker, block)
	}
	return rest[start+1 : start+1+end]
}

func TestReadmeQuickstartStepsWorkAsWritten(t *testing.T) {
	md := readREADME(t)
	rec := newRecorder(t)
	dir, natsPort, adminPort, ingestPort := quickstartCopyWithIngest(t, rec.URL, "")
	in := startBinary(t, dir, t.TempDir(), natsPort, adminPort)

	// Step 1: curl to the intake, at the address and with the key the
	// README gives (the defaults; here on a free port).
	curl := md.block(t, "curl -u ")
	key := strings.TrimSuffix(quoted(t, curl, "curl -u"), ":")
	path := regexp.MustCompile(`127\.0\.0\.1:8080(/v1/[a-z]+)`).FindStringSubmatch(curl)
	if path == nil || key == "" {
		t.Fatalf("README's curl: no 127.0.0.1:8080/v1/... URL or key:\n%s", curl)
	}
	body := quoted(t, curl, "-d")
	if !json.Valid([]byte(body)) {
		t.Fatalf("README's curl body is not JSON: %s", body)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d%s", ingestPort, path[1]), strings.NewReader(body))
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(md.text, "It answers `"+strings.TrimSpace(string(answer))+"`") {
		t.Fatalf("the intake answered %d %s", resp.StatusCode, answer)
	}

	// What the README shows each destination receiving for it is what it
	// received (the time fields aside: they follow when the event arrived).
	waitUntil(t, 20*time.Second, func() bool {
		m := in.metrics()
		return settledOf(m["raw-webhook"]) == 1 && settledOf(m["crm"]) == 1 && settledOf(m["amplitude"]) == 1
	}, func() string { return fmt.Sprintf("step 1 not settled: %v\n%s", in.metrics(), in.out.String()) })
	shown := regexp.MustCompile("(?s)── sink #\\d+ \\S+ (\\S+) (\\S+)\n(\\{.*?\n\\})")
	n := 0
	for _, b := range md.blocks {
		for _, s := range shown.FindAllStringSubmatch(b, -1) {
			n++
			var wantBody any
			if err := json.Unmarshal([]byte(s[3]), &wantBody); err != nil {
				t.Fatalf("README's %s %s body: %v", s[1], s[2], err)
			}
			dropTimes(wantBody)
			found := false
			for _, r := range rec.all() {
				var got any
				if r.Method != s[1] || r.Path != s[2] || json.Unmarshal(r.Body, &got) != nil {
					continue
				}
				dropTimes(got)
				found = found || reflect.DeepEqual(got, wantBody)
			}
			if !found {
				t.Errorf("no %s %s received with the body the README shows:\n%s", s[1], s[2], s[3])
			}
		}
	}
	if n < 2 {
		t.Errorf("README shows %d requests, want the crm and amplitude ones at least", n)
	}

	// Step 2: nats pub.
	pub := md.block(t, "nats pub ")
	m := regexp.MustCompile(`nats pub (\S+) --header Nats-Msg-Id:(\S+)`).FindStringSubmatch(pub)
	if m == nil {
		t.Fatalf("README's nats pub:\n%s", pub)
	}
	nc, err := nats.Connect(in.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	msg := nats.NewMsg(m[1])
	msg.Data = []byte(quoted(t, pub, m[2]))
	msg.Header.Set(jetstream.MsgIDHeader, m[2])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ack, err := js.PublishMsg(ctx, msg); err != nil || ack.Duplicate {
		t.Fatalf("nats pub as the README writes it: %v (ack %+v)", err, ack)
	}

	// Step 3: make publish-example, as its comment spells it out.
	pe := regexp.MustCompile(`make publish-example\s+# = bin/switchyard (.*)`).FindStringSubmatch(md.block(t, "make publish-example"))
	if pe == nil {
		t.Fatal("README: make publish-example's command is not spelled out")
	}
	args := strings.Fields(strings.ReplaceAll(pe[1], "examples/quickstart/", filepath.Join("..", "..", "examples", "quickstart")+"/"))
	for i, a := range args {
		if a == "--config" {
			args[i+1] = dir
		}
	}
	out, code := runCLI(t, args...)
	if code != 0 || !strings.Contains(md.text, "It prints `"+strings.TrimSpace(out)+"`") {
		t.Fatalf("publish-example: exit %d: %q is not what the README says it prints", code, out)
	}

	// Step 4: the counts the README shows, exactly.
	want := map[string]map[string]int{}
	line := regexp.MustCompile(`(?m)^switchyard_events_total\{destination="([^"]+)",outcome="([^"]+)"\} (\d+)$`)
	for _, l := range line.FindAllStringSubmatch(md.block(t, "switchyard_events_total{"), -1) {
		if want[l[1]] == nil {
			want[l[1]] = map[string]int{}
		}
		var n int
		if _, err := fmt.Sscan(l[3], &n); err != nil {
			t.Fatalf("README count %q: %v", l[3], err)
		}
		want[l[1]][l[2]] = n
	}
	if len(want) != 3 {
		t.Fatalf("README shows counts for %d destinations, want the quickstart's 3", len(want))
	}
	nonZero := func() map[string]map[string]int {
		got := map[string]map[string]int{}
		for d, outcomes := range in.metrics() {
			for o, n := range outcomes {
				if n != 0 {
					if got[d] == nil {
						got[d] = map[string]int{}
					}
					got[d][o] = n
				}
			}
		}
		return got
	}
	waitUntil(t, 20*time.Second, func() bool { return reflect.DeepEqual(nonZero(), want) },
		func() string { return fmt.Sprintf("metrics %v, README says %v\n%s", nonZero(), want, in.out.String()) })

	// Step 5: preview.
	pv := regexp.MustCompile(`bin/switchyard (preview .*)`).FindStringSubmatch(md.block(t, "bin/switchyard preview"))
	args = strings.Fields(strings.ReplaceAll(pv[1], "examples/quickstart", filepath.Join("..", "..", "examples", "quickstart")))
	if out, code := runCLI(t, args...); code != 0 || !strings.Contains(out, "event #2 qs-order-1\n  ✓ order_completed\n  ✓ product_purchased") {
		t.Errorf("README's preview: exit %d:\n%s", code, out)
	}

	// The aside: a userId of "u-1" is dead-lettered by amplitude alone, and
	// the README's dlq list shows why.
	short := strings.Replace(strings.Replace(body, `"user-1001"`, `"u-1"`, 1), `"first-1"`, `"short-id-1"`, 1)
	if !strings.Contains(md.text, "\"userId\":\"u-1\"") || short == body {
		t.Fatal("README's aside on short user ids is gone, or the curl body changed shape")
	}
	req, _ = http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d%s", ingestPort, path[1]), strings.NewReader(short))
	req.SetBasicAuth(key, "")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("intake: %v", err)
	}
	resp.Body.Close()
	waitUntil(t, 20*time.Second, func() bool {
		m := in.metrics()
		return m["amplitude"]["dead_lettered"] == 1 && m["crm"]["delivered"] == want["crm"]["delivered"]+1 && m["raw-webhook"]["delivered"] == want["raw-webhook"]["delivered"]+1
	}, func() string { return fmt.Sprint(in.metrics()) })
	dl := regexp.MustCompile("bin/switchyard (dlq list [^`\n]*)").FindStringSubmatch(md.text)
	if dl == nil {
		t.Fatal("README: no dlq list command")
	}
	args = strings.Fields(dl[1])
	for i, a := range args {
		if a == "--config" {
			args[i+1] = dir
		}
	}
	if out, code := runCLI(t, args...); code != 0 || !strings.Contains(out, "short-id-1") || !strings.Contains(out, "at least 5 characters") {
		t.Errorf("README's dlq list: exit %d:\n%s", code, out)
	}

	// Step 6: the console, signed in as the README says, shows amplitude
	// failing and why; the fix it gives, saved, is reloaded; the replay
	// from the dead letters page delivers the event.
	readmeConsoleStep(t, md, in, dir, ingestPort, key, rec)
	in.stop()
}

func readmeConsoleStep(t *testing.T, md readme, in *instance, dir string, ingestPort int, key string, rec *recorder) {
	t.Helper()
	pw := regexp.MustCompile("sign\\s+in\\s+with any user name and the password `([^`]+)`").FindStringSubmatch(md.text)
	if pw == nil || !strings.Contains(md.text, "<http://127.0.0.1:8088/>") {
		t.Fatal("README: the console step does not give the address and the password")
	}
	page := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, in.admin+path, strings.NewReader(form.Encode()))
		req.SetBasicAuth("operator", pw[1])
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if code, _, _ := page("GET", "/", nil); code != 200 {
		t.Fatalf("the console with the README's password: %d", code)
	}
	before := m(in)["amplitude"]["dead_lettered"]
	curl := md.block(t, `"messageId":"short-id-2"`)
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/v1/track", ingestPort), strings.NewReader(quoted(t, curl, "-d")))
	req.SetBasicAuth(key, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("step 6's curl: %v", err)
	}
	resp.Body.Close()
	waitUntil(t, 20*time.Second, func() bool { return m(in)["amplitude"]["dead_lettered"] == before+1 }, func() string { return fmt.Sprint(m(in)) })
	_, _, overview := page("GET", "/", nil)
	attention := overview[strings.Index(overview, "Needs attention"):]
	attention = attention[:strings.Index(attention, "</section>")]
	said := regexp.MustCompile("`amplitude` is now under \\*Needs attention\\*: `([^`]+)`").FindStringSubmatch(strings.Join(strings.Fields(md.text), " "))
	if said == nil {
		t.Fatal("README: step 6 does not say what the console shows for amplitude")
	}
	for _, part := range strings.Split(said[1], "...") {
		if part = strings.TrimSpace(part); !strings.Contains(html.UnescapeString(attention), part) {
			t.Errorf("the overview's attention list lacks %q (README):\n%s", part, attention)
		}
	}
	_, _, dest := page("GET", "/destinations/amplitude", nil)
	if !strings.Contains(dest, "short-id-2") || !strings.Contains(dest, "Config as loaded") {
		t.Errorf("amplitude's page lacks the sample or the config:\n%s", dest)
	}

	// The fix, as the README gives it.
	fix := regexp.MustCompile("add\\s+`([a-z_]+: [0-9]+)` under `settings:` in\\s+`examples/quickstart/(destinations/[a-z]+\\.yaml)`").FindStringSubmatch(md.text)
	if fix == nil {
		t.Fatal("README: step 6's fix is not spelled out")
	}
	file := filepath.Join(dir, fix[2])
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), "\nsettings:\n") {
		t.Fatalf("%s: %v", file, err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "\nsettings:\n", "\nsettings:\n  "+fix[1]+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		_, _, d := page("GET", "/destinations/amplitude", nil)
		return strings.Contains(d, fix[1])
	}, func() string { return "the fix was not reloaded:\n" + in.out.String() })

	// Tick the entry, press Replay selected.
	_, _, dlq := page("GET", "/destinations/amplitude/dlq", nil)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(dlq)
	row := regexp.MustCompile(`(?s)name="seq" value="(\d+)"[^\n]*\n(?:[^\n]*\n){0,8}?[^\n]*<code>short-id-2</code>`).FindStringSubmatch(dlq)
	if csrf == nil || row == nil || !strings.Contains(dlq, "Replay selected") {
		t.Fatalf("amplitude's dead letters page has no replay form for short-id-2:\n%s", dlq)
	}
	code, loc, _ := page("POST", "/destinations/amplitude/dlq/replay", url.Values{"csrf": {csrf[1]}, "seq": {row[1]}})
	if code != http.StatusSeeOther {
		t.Fatalf("Replay selected: %d", code)
	}
	_, _, report := page("GET", loc, nil)
	if !strings.Contains(report, "Replayed 1 dead letter(s).") || !strings.Contains(report, "removed from the DLQ") {
		t.Errorf("the replay's report:\n%s", report)
	}
	delivered := false
	for _, r := range rec.all() {
		delivered = delivered || (strings.HasPrefix(r.Path, "/amplitude/") && strings.Contains(string(r.Body), `"user_id":"u-2"`))
	}
	if !delivered {
		t.Error("the sink received no Amplitude request for u-2 after the replay")
	}
}

func m(in *instance) map[string]map[string]int { return in.metrics() }

// dropTimes removes "time" keys (Amplitude's event time) from a JSON tree.
func dropTimes(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "time")
		for _, e := range x {
			dropTimes(e)
		}
	case []any:
		for _, e := range x {
			dropTimes(e)
		}
	}
}
