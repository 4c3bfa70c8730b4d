package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json and docs/img/console-overview.png")

// screenshotPath is the README's picture of the overview, taken by
// TestBrowserShowsTheFailingDestinationAndReplaysItsDeadLetter.
const screenshotPath = "../../docs/img/console-overview.png"

// chromium finds Debian's chromium (installed by .ci/run). Without it the
// test fails under CI=true and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium must be on PATH for the console's browser test (apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", msg)
	}
	t.Skip("skipping: " + msg)
	return ""
}

// browser starts headless chromium with a fresh profile and the flags the
// machine needs (no sandbox as root, no network beyond loopback), and
// collects what the browser logs as a warning or an error and what the
// page throws: a CSP violation shows up there.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var problems []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, string(e.Entry.Source)+": "+e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	must(t, chromedp.Do(ctx))
	_, err := chromedp.Call(ctx, log.Enable, cdp.Empty{})
	must(t, err)
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	must(t, err)
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// setHeaders makes the browser send headers with every request.
func setHeaders(h network.Headers) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
		return err
	})
}

// text reads an element's visible text.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	must(t, err)
	return s
}

// basic is the Authorization header a browser sends after its sign-in
// prompt: any user name, the admin token as the password.
func basic(token string) network.Headers {
	return network.Headers{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+token))}
}

func TestBrowserShowsTheFailingDestinationAndReplaysItsDeadLetter(t *testing.T) {
	const token = "console-admin-token"
	ctx, problems := browser(t)
	w, crm, _ := failingWorld(t, token)
	seqs := w.dlqSeqs("crm")
	if len(seqs) != 2 {
		t.Fatalf("precondition: crm has %d dead letters, want 2 (bad-1, and the shared invalid inv-1)", len(seqs))
	}

	// The overview names the failing destination and why.
	must(t, chromedp.Do(ctx,
		setHeaders(basic(token)),
		chromedp.Navigate(w.admin.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`table.dests`)),
	))
	overview := text(t, ctx, "main")
	for _, want := range []string{"Needs attention", "crm", "failing", "circuit breaker open", "HTTP 503", "hook", "legacy", "disabled"} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q:\n%s", want, overview)
		}
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, err)
	if _, err := png.Decode(bytes.NewReader(shot)); err != nil || len(shot) < 10_000 {
		t.Fatalf("the overview's screenshot is not a PNG worth showing (%d bytes): %v", len(shot), err)
	}
	if *update {
		must(t, os.MkdirAll(filepath.Dir(screenshotPath), 0o755))
		must(t, os.WriteFile(screenshotPath, shot, 0o644))
		t.Logf("wrote %s (%d bytes)", screenshotPath, len(shot))
	}

	// The destination's page: its state, its counts and a sample of the
	// failing request, the secret redacted.
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a.name[href="/destinations/crm"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`table.pipeline`)),
	))
	page, pipeline := text(t, ctx, "main"), text(t, ctx, "table.pipeline")
	for _, want := range []string{"breaker open", "retrying now", "POST " + crm.URL + "/v1/bad", "422 Unprocessable Entity", `"unknown field plan"`,
		"POST " + crm.URL + "/v1/events", "503 Service Unavailable", "Authorization: [REDACTED]", `"messageId": "bad-1"`,
		"invalid, field userId", "neither userId nor anonymousId is set"} {
		if !strings.Contains(page, want) {
			t.Errorf("crm's page lacks %q:\n%s", want, page)
		}
	}
	for _, want := range []string{"dead_lettered\t\t1\t1", "http_4xx\t1\t1", "invalid\t\t1\t1", "no_trigger", "retried\t\t2\t2", "retrying now\t\t2"} {
		if !strings.Contains(pipeline, want) {
			t.Errorf("crm's pipeline lacks %q:\n%s", want, pipeline)
		}
	}
	if strings.Contains(page, "sk-console-canary") {
		t.Fatal("the secret is on the page")
	}

	// The tool is fixed. Without the token the replay is refused, and the
	// entry stays: the browser, sent the 401's sign-in challenge with no
	// credentials to give, stops; the same form posted by a client shows
	// the 401.
	crm.setRespond(func(string, []byte) (int, string) { return 200, `{"ok":true}` })
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/destinations/crm/dlq"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`#dlq-form`)),
		chromedp.Click(chromedp.CSS(`input[name="seq"]`), chromedp.NodeVisible),
	))
	csrf, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#dlq-form input[name="csrf"]`)))
	must(t, err)
	seq, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#dlq-form input[name="seq"]`)))
	must(t, err)
	must(t, chromedp.Do(ctx, setHeaders(network.Headers{})))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#replay-selected`), chromedp.NodeVisible))
	if err == nil && resp.Status != 401 {
		t.Fatalf("the browser's replay without the token was answered %d", resp.Status)
	} else if err != nil && !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		t.Fatalf("the browser's replay without the token: %v", err)
	}
	status, _, body := w.post("/destinations/crm/dlq/replay", url.Values{"csrf": {csrf}, "seq": {seq}})
	if status != 401 || !strings.Contains(body, "401 unauthorized") {
		t.Fatalf("the replay form posted without the token: %d %s", status, body)
	}
	if got := w.dlqSeqs("crm"); len(got) != 2 || crm.count() != 3 {
		t.Fatalf("after the refused replays: entries %v, tool requests %d (want 2 entries, 3 requests)", got, crm.count())
	}

	// With the token it replays, and the event is delivered.
	must(t, chromedp.Do(ctx,
		setHeaders(basic(token)),
		chromedp.Navigate(w.admin.URL+"/destinations/crm/dlq"),
		chromedp.WaitVisible(chromedp.CSS(`#dlq-form`)),
		chromedp.Click(chromedp.CSS(`input[name="seq"]`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`#replay-selected`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`section.report`)),
	))
	report := text(t, ctx, "main")
	for _, want := range []string{"Replayed 1 dead letter(s).", "delivered 1", "1 delivered (or now filtered or unmatched): removed from the DLQ.",
		"Listed: 1", "invalid, shared by analytics, crm, hook", "inv-1"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if got := crm.accepted(); len(got) != 1 || got[0] != "bad-1" {
		t.Errorf("the tool accepted %v, want [bad-1]", got)
	}
	if got := w.dlqSeqs("crm"); len(got) != 1 || got[0] != seqs[1] {
		t.Errorf("the DLQ holds %v, want only the shared invalid entry %d", got, seqs[1])
	}
	for _, p := range problems() {
		// The refused replay's 401 is the only error the browser may see.
		if strings.Contains(p, "401") {
			continue
		}
		t.Errorf("the browser reported: %s", p)
	}
}
