package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// Every bound of limits.*, fed an input just over it: a clear error,
// counted, and the lane goes on with the next event.

// sizedTrack is a track event of exactly n bytes.
func sizedTrack(t *testing.T, id string, n int) []byte {
	t.Helper()
	head := fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u","event":"Big","properties":{"pad":"`, id)
	tail := `"}}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("%d bytes is too small", n)
	}
	b := []byte(head + strings.Repeat("x", pad) + tail)
	if len(b) != n || !json.Valid(b) {
		t.Fatalf("sizedTrack: %d bytes", len(b))
	}
	return b
}

// nested is a track event whose JSON nesting is depth levels deep (the
// event object itself is level 1).
func nested(id string, depth int) []byte {
	inner := "{}"
	for range depth - 3 { // event, properties, and the innermost {}
		inner = `{"a":` + inner + `}`
	}
	return []byte(fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u","event":"Deep","properties":{"a":%s}}`, id, inner))
}

// withProps is a track event whose properties have n keys.
func withProps(id string, n int) []byte {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf(`"p%d":%d`, i, i))
	}
	return []byte(fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u","event":"Wide","properties":{%s}}`, id, strings.Join(kv, ",")))
}

func TestEventBoundsRefuseJustOverTheLimitAndTheLaneGoesOn(t *testing.T) {
	tl := newTool(t, nil)
	e := newEnv(t, "limits:\n  max_event_bytes: 2048\n  max_depth: 6\n  max_properties: 10\n",
		map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + fast})
	e.start()
	// The router adds the intake's 1 KiB enrichment headroom: the
	// effective size limit is 2048+1024 bytes.
	const effective = 2048 + 1024
	send := func(id string, data []byte) { e.publishRaw("events.web.track", id, data) }
	send("size-at", sizedTrack(t, "size-at", effective))
	send("size-over", sizedTrack(t, "size-over", effective+1))
	send("depth-at", nested("depth-at", 6))
	send("depth-over", nested("depth-over", 7))
	send("props-at", withProps("props-at", 10))
	send("props-over", withProps("props-over", 11))
	e.publish("web", track("good-after", "u", "Clicked", nil))
	e.waitSettled("hook", 7, 10*time.Second)
	e.checkSum("hook", 7)
	if inv, del := e.count("hook", router.Invalid), e.count("hook", router.Delivered); inv != 3 || del != 4 {
		t.Fatalf("invalid %d delivered %d, want 3 and 4 (%s)", inv, del, e.outcomes("hook"))
	}
	got := uniq(tl.delivered())
	for _, id := range []string{"size-at", "depth-at", "props-at", "good-after"} {
		if !got[id] {
			t.Errorf("%s (at the limit) was not delivered: %v", id, got)
		}
	}
	reasons := map[string]string{}
	for _, dl := range e.dlq("hook") {
		var ev map[string]any
		must(t, json.Unmarshal(dl.Data, &ev))
		reasons[ev["messageId"].(string)] = dl.Reason
	}
	for id, want := range map[string]string{
		"size-over":  fmt.Sprintf("event is %d bytes, over the %d byte limit", effective+1, effective),
		"depth-over": "JSON nesting is deeper than the 6 level limit",
		"props-over": "an object or array has more than 10 entries",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("%s: DLQ reason %q, want %q", id, reasons[id], want)
		}
	}
}

func TestExprNodesOverTheLimitAreRefusedAtTheirPlaceAndTheRunningConfigStays(t *testing.T) {
	tl := newTool(t, nil)
	// userId + ... + userId with k terms is 2k-1 syntax nodes.
	terms := func(k int) string { return strings.TrimSuffix(strings.Repeat("userId + ", k), " + ") }
	dest := func(k int) string {
		return fmt.Sprintf("type: http\nactions:\n  a:\n    url: %s/a\n    fields:\n      big: %s\n", tl.URL, terms(k)) + fast
	}
	const global = "limits:\n  max_expr_nodes: 20\n"
	e := newEnv(t, global, map[string]string{"api": dest(10)}) // 19 nodes
	r := e.start()

	e.writeConfig(global, map[string]string{"api": dest(11)}) // 21 nodes
	cfg, diags := config.Load(e.dir, config.Options{})
	must(t, diags.Err())
	_, bd := plan.Build(cfg)
	if len(bd.Errors()) != 1 {
		t.Fatalf("want one error, got %v", bd)
	}
	d := bd.Errors()[0]
	if !strings.HasSuffix(d.Pos.File, "api.yaml") || d.Pos.Line != 6 || d.Pos.Col < 12 ||
		!strings.Contains(d.Message, "actions.a.fields.big") || !strings.Contains(d.Message, "limits.max_expr_nodes is 20") {
		t.Errorf("diagnostic %q", d)
	}
	if err := r.Reload(context.Background(), cfg, diags); !errors.Is(err, router.ErrRefused) {
		t.Fatalf("reload: %v", err)
	}
	if n := testutil.ToFloat64(r.Metrics().Reloads.WithLabelValues("refused")); n != 1 {
		t.Errorf("refused reloads counted %v", n)
	}
	e.publish("web", track("after-refusal", "u1", "Clicked", nil))
	e.waitSettled("api", 1, 10*time.Second)
	reqs := tl.all()
	if e.count("api", router.Delivered) != 1 || len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), "u1u1u1u1u1u1u1u1u1u1") {
		t.Fatalf("the running config did not go on: %s %v", e.outcomes("api"), reqs)
	}
}

func TestExprMemoryBudgetFailsThatEventOnlyAndDeadLettersIt(t *testing.T) {
	tl := newTool(t, nil)
	e := newEnv(t, "limits:\n  expr_memory_budget: 1000\n", map[string]string{"api": fmt.Sprintf(`type: http
actions:
  count:
    url: %s/count
    fields:
      n: len(1..properties.n)
`, tl.URL) + fast})
	e.start()
	for i, n := range []int{999, 1000, 5} {
		e.publish("web", track(fmt.Sprintf("n-%d", i), "u", "Count", map[string]any{"n": n}))
	}
	e.waitSettled("api", 3, 10*time.Second)
	e.checkSum("api", 3)
	if e.count("api", router.Delivered) != 2 || e.count("api", router.DeadLettered) != 1 {
		t.Fatalf("%s", e.outcomes("api"))
	}
	dls := e.dlq("api")
	if len(dls) != 1 || dls[0].MessageID != "n-1" || !strings.Contains(dls[0].Reason, "memory budget exceeded") ||
		len(dls[0].Actions) != 1 || dls[0].Actions[0] != "count" {
		t.Fatalf("dead letters: %+v", dls)
	}
}

func TestToolAnswering10MBIsReadOnlyUpToTheLimit(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"chatty"`):
			w.WriteHeader(400)
			chunk := []byte(strings.Repeat("z", 64<<10))
			for range 160 { // 10 MiB
				k, err := w.Write(chunk)
				written.Add(int64(k))
				if err != nil {
					return
				}
			}
		case strings.Contains(string(body), `"late-errors"`):
			// A readable per-item report, but only past the first 1000
			// bytes: cut at the limit, it cannot be read.
			w.WriteHeader(http.StatusMultiStatus)
			_, _ = io.WriteString(w, `{"errors":[]`+strings.Repeat(" ", 2000)+`}`)
		default:
			w.WriteHeader(200)
		}
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, "limits:\n  max_response_bytes: 1000\n", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", srv.URL) + fast})
	r := e.start()
	e.publish("web", track("chatty", "u", "Clicked", nil))
	e.publish("web", track("late-errors", "u", "Clicked", nil))
	e.publish("web", track("after", "u", "Clicked", nil))
	e.waitSettled("hook", 3, 20*time.Second)
	if e.count("hook", router.DeadLettered) != 2 || e.count("hook", router.Delivered) != 1 {
		t.Fatalf("%s", e.outcomes("hook"))
	}
	byID := map[string]*router.DeadLetter{}
	for _, dl := range e.dlq("hook") {
		byID[dl.MessageID] = dl
	}
	if dl := byID["chatty"]; dl == nil || dl.Status != 400 || len(dl.Response) == 0 || len(dl.Response) > 1024 {
		t.Fatalf("dead letter of the 10 MiB answer: %+v", dl)
	}
	if dl := byID["late-errors"]; dl == nil || !strings.Contains(dl.Reason, "unexpected end of JSON input") {
		t.Fatalf("the 207 body was not cut at max_response_bytes: %+v", dl)
	}
	// The client stopped reading (the limit, then a bounded drain): the
	// tool could not write its whole answer. (What it did write sits in
	// the kernel's socket buffers, a few MiB.)
	t.Logf("the tool wrote %d of its 10 MiB before the connection closed", written.Load())
	if w := written.Load(); w >= 10<<20 {
		t.Errorf("the tool wrote its whole %d byte answer", w)
	}
	samples := deliverySamples(t, r, "hook")
	if len(samples.Failures) != 2 {
		t.Fatalf("samples: %+v", samples.Failures)
	}
	for _, f := range samples.Failures {
		if f.Response == nil || len(f.Response.Body) > 1024 {
			t.Errorf("sample response: %+v", f.Response)
		}
	}
}

func TestDLQHeadersAreBoundedByMaxDLQHeaderBytes(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes, two per character
	tl := newTool(t, func(n int, r *http.Request, _ []byte) (int, http.Header, string) {
		if strings.HasSuffix(r.URL.Path, "/reject") {
			return 400, nil, `{"error":"` + long + `"}`
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "limits:\n  max_dlq_header_bytes: 101\n", map[string]string{"api": fmt.Sprintf(`type: http
actions:
  a:
    url: '%s/{{ event == "Reject" ? "reject" : "ok" }}'
    fields:
      n: int(properties.s)
`, tl.URL) + fast})
	e.start()
	e.publish("web", track("long-reason", "u", "Convert", map[string]any{"s": long}))
	e.publish("web", track("long-response", "u", "Reject", map[string]any{"s": "7"}))
	e.publish("web", track("after", "u", "Convert", map[string]any{"s": "8"}))
	e.waitSettled("api", 3, 10*time.Second)
	if e.count("api", router.DeadLettered) != 2 || e.count("api", router.Delivered) != 1 {
		t.Fatalf("%s", e.outcomes("api"))
	}
	for _, dl := range e.dlq("api") {
		if len(dl.Reason) > 101 || len(dl.Response) > 101 {
			t.Errorf("%s: reason %d bytes, response %d bytes; want ≤ 101", dl.MessageID, len(dl.Reason), len(dl.Response))
		}
		if !strings.HasPrefix(dl.Reason, "fields.n: invalid operation: int(éé") && !strings.HasPrefix(dl.Reason, "HTTP 400") {
			t.Errorf("%s: reason %q", dl.MessageID, dl.Reason)
		}
		if !json.Valid(dl.Data) || !strings.Contains(string(dl.Data), dl.MessageID) {
			t.Errorf("%s: the event was not kept whole", dl.MessageID)
		}
		for _, s := range []string{dl.Reason, string(dl.Response)} {
			if strings.ContainsRune(s, '\uFFFD') || !strings.HasSuffix(s, "é") && strings.Contains(s, "é") && len(s) == 101 {
				t.Errorf("%s: cut inside a character: %q", dl.MessageID, s)
			}
		}
	}
}

// Without limits.max_dlq_header_bytes, every header is bounded at 1 KiB.
func TestDLQHeadersHaveADefaultBound(t *testing.T) {
	dl := &router.DeadLetter{Destination: "d", Reason: strings.Repeat("r", 5000), Response: []byte(strings.Repeat("b", 5000)), FailedAt: time.Now()}
	m := dl.Msg(nil, 0)
	for k, vs := range m.Header {
		for _, v := range vs {
			if len(v) > router.DefaultDLQHeaderBytes {
				t.Errorf("%s: %d bytes", k, len(v))
			}
		}
	}
	if len(m.Header.Get(router.HeaderReason)) != 1024 {
		t.Errorf("reason cut at %d bytes", len(m.Header.Get(router.HeaderReason)))
	}
}

type samplesView struct {
	Failures  []router.Sample `json:"failures"`
	Successes []router.Sample `json:"successes"`
}

// deliverySamples reads /debug/deliveries of a destination.
func deliverySamples(t *testing.T, r *router.Router, dest string) samplesView {
	t.Helper()
	rec := httptest.NewRecorder()
	r.AdminHandler("").ServeHTTP(rec, httptest.NewRequest("GET", "/debug/deliveries?destination="+dest, nil))
	var v samplesView
	must(t, json.Unmarshal(rec.Body.Bytes(), &v))
	return v
}
