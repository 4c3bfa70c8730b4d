package console_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router/console"
)

// refusingWorld runs one webhook destination, "hook", whose tool refuses
// everything with a 400: each event published is dead-lettered at once.
func refusingWorld(t *testing.T, token string, events int) (*world, *tool) {
	t.Helper()
	tl := newTool(t, func(string, []byte) (int, string) { return 400, `{"error":"no"}` })
	w := newWorld(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/in\n", tl.URL)}, token)
	for i := range events {
		w.publish("web", track(fmt.Sprintf("ev-%d", i), "user-1001", "Signed Up"))
	}
	waitFor(t, 10*time.Second, func() bool { return len(w.dlqSeqs("hook")) == events }, func() string { return "events not dead-lettered" })
	return w, tl
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the CSRF token of the forms of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

func TestWithATokenNothingIsServedWithoutIt(t *testing.T) {
	const token = "s3cret-admin-token"
	w, _ := refusingWorld(t, token, 1)
	paths := []string{"/", "/?window=1h", "/destinations/hook", "/destinations/hook/dlq", "/destinations/hook/preview",
		"/static/console.css", "/static/console.js", "/static/favicon.svg", "/no/such/page",
		"/api/", "/api", "/api/destinations/hook", "/api/destinations/hook/dlq"}
	bad := [][]string{
		nil,
		{"Authorization", "Bearer wrong-token"},
		{"Authorization", "Bearer " + token + "x"},
		{"Authorization", "Basic " + b64("ops:wrong")},
		{"Authorization", "Basic " + b64(token+":")}, // the token as the user name is not the password
		{"Authorization", token},
		{"Accept", "application/json"},
	}
	for _, p := range paths {
		for _, h := range bad {
			code, hdr, body := w.get(p, h...)
			if code != 401 {
				t.Errorf("GET %s %v: %d, want 401", p, h, code)
			}
			if strings.Contains(body, "hook") || strings.Contains(body, "{") || strings.Contains(body, "<html") {
				t.Errorf("GET %s %v: the 401 shows something of the console:\n%s", p, h, body)
			}
			if !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") || hdr.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
				t.Errorf("GET %s %v: headers %v", p, h, hdr)
			}
		}
		for _, h := range [][]string{{"Authorization", "Bearer " + token}, {"Authorization", "Basic " + b64("anyone:"+token)}} {
			code, hdr, _ := w.get(p, h...)
			want := 200
			if p == "/no/such/page" {
				want = 404
			}
			if code != want || hdr.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
				t.Errorf("GET %s with the token: %d (want %d), CSP %q", p, code, want, hdr.Get("Content-Security-Policy"))
			}
		}
	}
	// POSTs are refused before anything is read, and nothing changes.
	for _, p := range []string{"/destinations/hook/dlq/replay", "/destinations/hook/dlq/purge", "/destinations/hook/preview", "/api/destinations/hook/dlq/purge"} {
		if code, _, _ := w.post(p, url.Values{"all": {"1"}, "confirm": {"yes"}}); code != 401 {
			t.Errorf("POST %s without the token: %d, want 401", p, code)
		}
	}
	if n := len(w.dlqSeqs("hook")); n != 1 {
		t.Errorf("after the refused POSTs the DLQ holds %d entries, want 1", n)
	}
	// Probes and scrapers need no token; the debug endpoint does, as before.
	if code, _, _ := w.get("/healthz"); code != 200 {
		t.Errorf("/healthz without the token: %d", code)
	}
	if code, _, _ := w.get("/debug/deliveries?destination=hook"); code != 401 {
		t.Errorf("/debug/deliveries without the token: %d", code)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPostsNeedTheTokenAndTheirCSRFToken(t *testing.T) {
	const token = "s3cret-admin-token"
	w, _ := refusingWorld(t, token, 3)
	seqs := w.dlqSeqs("hook")
	auth := []string{"Authorization", "Basic " + b64("ops:"+token)}
	_, _, page := w.get("/destinations/hook/dlq", auth...)
	csrf := csrfOf(t, page)
	seq := fmt.Sprint(seqs[0])

	refused := []struct {
		name   string
		form   url.Values
		header []string
		status int
	}{
		{"no admin token", url.Values{"csrf": {csrf}, "seq": {seq}}, nil, 401},
		{"a bad admin token", url.Values{"csrf": {csrf}, "seq": {seq}}, []string{"Authorization", "Basic " + b64("ops:nope")}, 401},
		{"no CSRF token", url.Values{"seq": {seq}}, auth, 403},
		{"a bad CSRF token", url.Values{"csrf": {"x" + csrf}, "seq": {seq}}, auth, 403},
		{"an empty CSRF token", url.Values{"csrf": {""}, "seq": {seq}}, auth, 403},
		{"another site's form", url.Values{"csrf": {csrf}, "seq": {seq}}, append([]string{"Sec-Fetch-Site", "cross-site"}, auth...), 403},
		{"another origin", url.Values{"csrf": {csrf}, "seq": {seq}}, append([]string{"Origin", "https://evil.example"}, auth...), 403},
	}
	for _, path := range []string{"/destinations/hook/dlq/purge", "/destinations/hook/dlq/replay"} {
		for _, c := range refused {
			code, _, body := w.post(path, c.form, c.header...)
			if code != c.status {
				t.Errorf("POST %s with %s: %d, want %d\n%s", path, c.name, code, c.status, body)
			}
		}
	}
	if got := w.dlqSeqs("hook"); len(got) != 3 {
		t.Fatalf("after the refused POSTs the DLQ holds %v, want all 3", got)
	}

	// The page's own form, as a browser sends it, purges the entry.
	code, hdr, _ := w.post("/destinations/hook/dlq/purge", url.Values{"csrf": {csrf}, "seq": {seq}},
		append([]string{"Sec-Fetch-Site", "same-origin", "Origin", w.admin.URL}, auth...)...)
	if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/destinations/hook/dlq?report=") {
		t.Fatalf("the page's purge form: %d, Location %q", code, hdr.Get("Location"))
	}
	_, _, after := w.get(hdr.Get("Location"), auth...)
	if !strings.Contains(after, "Purged 1 dead letter(s).") {
		t.Errorf("the page after the purge does not report it:\n%s", after)
	}
	if got := w.dlqSeqs("hook"); len(got) != 2 {
		t.Errorf("after the purge: %v, want 2 entries", got)
	}

	// The preview of a dead letter offers its replay; the tool still
	// refuses it, so the entry is replaced by one with the new reason.
	third := fmt.Sprint(seqs[2])
	code, _, pv := w.get("/destinations/hook/preview?seq="+third, auth...)
	if code != 200 || !strings.Contains(pv, "Replay dead letter "+third) || !strings.Contains(pv, "POST ") {
		t.Fatalf("the preview of entry %s: %d\n%s", third, code, pv)
	}
	code, hdr, _ = w.post("/destinations/hook/dlq/replay", url.Values{"csrf": {csrfOf(t, pv)}, "seq": {third}}, auth...)
	_, _, after = w.get(hdr.Get("Location"), auth...)
	if code != http.StatusSeeOther || !strings.Contains(after, "Replayed 1 dead letter(s).") || !strings.Contains(after, "1 failed again: kept with the new reason.") {
		t.Errorf("the replay from the preview: %d\n%s", code, after)
	}

	// A script's bearer token is never sent by a browser on its own: its
	// POST needs no CSRF token, and gets the report as JSON.
	code, _, body := w.post("/api/destinations/hook/dlq/purge", url.Values{"seq": {fmt.Sprint(seqs[1])}}, "Authorization", "Bearer "+token)
	var rep console.ActionReport
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Purged != 1 || rep.Action != "purge" {
		t.Errorf("a script's purge: %d %s", code, body)
	}
	// Purging them all needs confirm=yes.
	code, _, body = w.post("/api/destinations/hook/dlq/purge", url.Values{"all": {"1"}}, "Authorization", "Bearer "+token)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "confirm=yes") || len(w.dlqSeqs("hook")) != 1 {
		t.Errorf("purge all without confirm: %d %s", code, body)
	}
}

func TestWithoutATokenTheConsoleIsReadOnly(t *testing.T) {
	w, tl := refusingWorld(t, "", 1)
	code, _, page := w.get("/destinations/hook/dlq")
	if code != 200 || !strings.Contains(page, "Read-only: set <code>admin.token</code>") || strings.Contains(page, `id="replay-selected"`) {
		t.Fatalf("the DLQ page without a token: %d\n%s", code, page)
	}
	csrf := csrfOf(t, page)
	seq := fmt.Sprint(w.dlqSeqs("hook")[0])
	for _, p := range []string{"/destinations/hook/dlq/replay", "/destinations/hook/dlq/purge"} {
		code, _, body := w.post(p, url.Values{"csrf": {csrf}, "seq": {seq}})
		if code != 403 || !strings.Contains(body, "read-only") {
			t.Errorf("POST %s without a configured token: %d\n%s", p, code, body)
		}
	}
	if n := len(w.dlqSeqs("hook")); n != 1 {
		t.Errorf("the DLQ holds %d entries, want 1", n)
	}
	// Preview changes nothing and sends nothing: it is allowed, from the
	// console's own page only.
	sent := tl.count()
	ev := `{"type":"track","userId":"user-1001","event":"Signed Up","messageId":"pv-1"}`
	if code, _, _ := w.post("/destinations/hook/preview", url.Values{"event": {ev}}, "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("a preview from another site: %d, want 403", code)
	}
	code, _, body := w.post("/destinations/hook/preview", url.Values{"csrf": {csrf}, "event": {ev}, "source": {"web"}}, "Sec-Fetch-Site", "same-origin")
	if code != 200 || !strings.Contains(body, "POST "+tl.URL+"/in") || !strings.Contains(body, "&#34;messageId&#34;: &#34;pv-1&#34;") {
		t.Errorf("preview: %d\n%s", code, body)
	}
	if tl.count() != sent {
		t.Errorf("the preview sent %d requests", tl.count()-sent)
	}
}

func TestEveryPageIsJSONForScripts(t *testing.T) {
	w, _ := refusingWorld(t, "", 1)
	for _, c := range []struct {
		path   string
		header []string
		json   bool
	}{
		{"/", nil, false},
		{"/", []string{"Accept", "*/*"}, false},
		{"/", []string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, false},
		{"/", []string{"Accept", "application/json"}, true},
		{"/api/", nil, true},
		{"/api", nil, true},
		{"/destinations/hook", []string{"Accept", "application/json"}, true},
		{"/api/destinations/hook/dlq", []string{"Accept", "text/html"}, true},
		{"/api/destinations/nope", nil, true},
		{"/destinations/nope", nil, false},
	} {
		code, hdr, body := w.get(c.path, c.header...)
		isJSON := strings.HasPrefix(hdr.Get("Content-Type"), "application/json") && json.Valid([]byte(body))
		isHTML := strings.HasPrefix(hdr.Get("Content-Type"), "text/html") && strings.HasPrefix(body, "<!doctype html>")
		if c.json != isJSON || c.json == isHTML {
			t.Errorf("GET %s %v: %d %s, want JSON %v", c.path, c.header, code, hdr.Get("Content-Type"), c.json)
		}
		if strings.Contains(c.path, "nope") && (code != 404 || !strings.Contains(body, "have: hook")) {
			t.Errorf("GET %s: %d %s", c.path, code, body)
		}
	}
	// A preview for scripts: the event is the body.
	req, _ := http.NewRequest("POST", w.admin.URL+"/api/destinations/hook/preview?source=web", strings.NewReader(`{"type":"identify","userId":"user-7","messageId":"m-7"}`))
	req.Header.Set("Content-Type", "application/json")
	code, _, body := do(t, req)
	var pv console.PreviewView
	if code != 200 || json.Unmarshal([]byte(body), &pv) != nil || pv.Result == nil || len(pv.Result.Requests) != 1 || pv.Result.Requests[0].Event != "m-7" {
		t.Errorf("a JSON preview: %d %s", code, body)
	}
}
