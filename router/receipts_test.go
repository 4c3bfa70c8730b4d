package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/router"
)

// fakeExpo is Expo's push service as the receipts flow meets it:
// /push/send answers one "ok" ticket per message, in order, with the id
// tk-<message_id>; /push/getReceipts answers by the kind the messageId
// starts with: ok-, dead- (DeviceNotRegistered), rate- (MessageRateExceeded),
// odd- (an error code Expo does not document), late- (no receipt at the
// first check, ok after), never- (never a receipt), flaky- (the first
// request asking about one gets a 503). down fails every receipts request
// with a 503.
type fakeExpo struct {
	*httptest.Server
	mu      sync.Mutex
	asked   map[string]int // ticket -> times asked about
	reqs    int            // getReceipts requests
	sizes   []int
	auth    []string
	flakyed bool
	down    bool
}

func newFakeExpo(t *testing.T) *fakeExpo {
	f := &fakeExpo{asked: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeExpo) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/--/api/v2/push/send":
		var msgs []struct {
			Data map[string]any `json:"data"`
		}
		if json.Unmarshal(body, &msgs) != nil {
			http.Error(w, `{"errors":[{"code":"VALIDATION_ERROR"}]}`, http.StatusBadRequest)
			return
		}
		var tickets []string
		for _, m := range msgs {
			tickets = append(tickets, fmt.Sprintf(`{"status":"ok","id":"tk-%v"}`, m.Data["message_id"]))
		}
		fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(tickets, ","))
	case "/--/api/v2/push/getReceipts":
		var req struct {
			IDs []string `json:"ids"`
		}
		if json.Unmarshal(body, &req) != nil || len(req.IDs) > 1000 {
			http.Error(w, `{"errors":[{"code":"VALIDATION_ERROR"}]}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reqs++
		f.sizes = append(f.sizes, len(req.IDs))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if f.down {
			http.Error(w, `{"errors":[{"code":"INTERNAL_SERVER_ERROR"}]}`, http.StatusServiceUnavailable)
			return
		}
		for _, id := range req.IDs {
			if strings.HasPrefix(id, "tk-flaky-") && !f.flakyed {
				f.flakyed = true
				for _, id := range req.IDs {
					f.asked[id]++
				}
				http.Error(w, `{"errors":[{"code":"INTERNAL_SERVER_ERROR"}]}`, http.StatusServiceUnavailable)
				return
			}
		}
		var parts []string
		for _, id := range req.IDs {
			f.asked[id]++
			kind, _, _ := strings.Cut(strings.TrimPrefix(id, "tk-"), "-")
			var rec string
			switch kind {
			case "dead":
				rec = `{"status":"error","message":"\"ExponentPushToken[abcdefghijklmnop]\" is not a registered push notification recipient","details":{"error":"DeviceNotRegistered"}}`
			case "rate":
				rec = `{"status":"error","message":"Too many","details":{"error":"MessageRateExceeded"}}`
			case "odd":
				rec = `{"status":"error","message":"something new","details":{"error":"BrandNewError"}}`
			case "late":
				if f.asked[id] > 1 {
					rec = `{"status":"ok"}`
				}
			case "never":
			default:
				rec = `{"status":"ok"}`
			}
			if rec != "" {
				parts = append(parts, fmt.Sprintf("%q:%s", id, rec))
			}
		}
		fmt.Fprintf(w, `{"data":{%s}}`, strings.Join(parts, ","))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeExpo) timesAsked(ticket string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[ticket]
}

func (f *fakeExpo) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeExpo) receiptRequests() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs, append([]string{}, f.auth...)
}

// expoDest is an expo destination sending to f; the token is the user's
// trait, the access token comes from the environment.
func expoDest(f *fakeExpo) string {
	return fmt.Sprintf(`type: expo
settings:
  api_url: %s/--/api/v2
  events: Push Me
  token_trait: expo_token
  access_token: ${EXPO_ACCESS_TOKEN}
`, f.URL) + fast
}

func push(id string) map[string]any {
	ev := track(id, "u-"+id, "Push Me", map[string]any{"title": "Hello"})
	ev["context"] = map[string]any{"traits": map[string]any{"expo_token": "ExponentPushToken[" + strings.Repeat("x", 8) + id + "]"}}
	return ev
}

// startWith runs a router with receipts timing overridden.
func (e *env) startWith(timing router.ReceiptTiming) *router.Router {
	e.t.Helper()
	return e.startOpts(router.Options{Receipts: timing})
}

func (e *env) receipts(dest, result string) int {
	return int(testutil.ToFloat64(e.r.Metrics().Receipts.WithLabelValues(dest, result)))
}

// receiptsHeld is how many tickets RECEIPTS holds (a work queue: those
// not settled yet).
func (e *env) receiptsHeld() uint64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, router.ReceiptsStream)
	must(e.t, err)
	info, err := s.Info(ctx)
	must(e.t, err)
	return info.State.Msgs
}

func TestReceiptsAreCheckedAndDeadTokensReported(t *testing.T) {
	t.Setenv("EXPO_ACCESS_TOKEN", "expo-secret-token")
	f := newFakeExpo(t)
	e := newEnv(t, "", map[string]string{"push": expoDest(f)})
	e.startWith(router.ReceiptTiming{Delay: 200 * time.Millisecond, Recheck: 200 * time.Millisecond, Expiry: 3 * time.Second, Backoff: 50 * time.Millisecond})
	kinds := map[string]int{"ok": 20, "dead": 2, "rate": 1, "odd": 1, "late": 3, "never": 1, "flaky": 2}
	total := 0
	for kind, n := range kinds {
		for i := range n {
			e.publish("app", push(fmt.Sprintf("%s-%d", kind, i)))
			total++
		}
	}
	e.waitSettled("push", total, 20*time.Second)
	if got := e.count("push", router.Delivered); got != total {
		t.Fatalf("delivered %d of %d: %s", got, total, e.outcomes("push"))
	}
	want := map[string]int{"ok": 20 + 3 + 2, "device_not_registered": 2, "message_rate_exceeded": 1, "other_error": 1, "expired": 1}
	waitFor(t, 30*time.Second, func() bool {
		for res, n := range want {
			if e.receipts("push", res) != n {
				return false
			}
		}
		return e.receiptsHeld() == 0
	}, func() string {
		var parts []string
		for _, res := range []string{"ok", "device_not_registered", "message_rate_exceeded", "other_error", "expired", "check_failed", "unrecorded"} {
			parts = append(parts, fmt.Sprintf("%s=%d", res, e.receipts("push", res)))
		}
		return fmt.Sprintf("receipts %s, RECEIPTS holds %d", strings.Join(parts, " "), e.receiptsHeld())
	})
	// The outcome of every event stays delivered: the ledger holds.
	if e.count("push", router.Delivered) != total || e.settled("push") != total {
		t.Errorf("receipts changed the ledger: %s", e.outcomes("push"))
	}
	if n := e.receipts("push", "check_failed"); n < 1 {
		t.Errorf("check_failed %d: the 503 was not counted", n)
	}
	for i := range 2 {
		if n := f.timesAsked(fmt.Sprintf("tk-flaky-%d", i)); n < 2 {
			t.Errorf("flaky ticket %d asked %d times: a failed check was not retried", i, n)
		}
	}
	for i := range 3 {
		if n := f.timesAsked(fmt.Sprintf("tk-late-%d", i)); n < 2 {
			t.Errorf("late ticket %d asked %d times: a pending receipt was not checked again", i, n)
		}
	}
	if e.receipts("push", "unrecorded") != 0 {
		t.Error("tickets went unrecorded")
	}
	reqs, auth := f.receiptRequests()
	if reqs == 0 {
		t.Fatal("no getReceipts request")
	}
	for _, a := range auth {
		if a != "Bearer expo-secret-token" {
			t.Fatalf("getReceipts Authorization %q, want the access token", a)
		}
	}

	// The dead tokens are reported: a warning naming messageId and the
	// truncated token, and a sample in the console's destination view.
	logs := e.logs.String()
	for i := range 2 {
		id := fmt.Sprintf("dead-%d", i)
		line := ""
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "dead recipient") && strings.Contains(l, "messageId="+id) {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("no dead-recipient warning for %s in the log", id)
		}
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "destination=push") || !strings.Contains(line, "recipient=ExponentPushToken[xxxx…") {
			t.Errorf("dead-recipient warning lacks level, destination or truncated token: %s", line)
		}
		if strings.Contains(line, "xxxxxxxx"+id) {
			t.Errorf("the warning shows the whole token: %s", line)
		}
	}
	if strings.Contains(logs, "abcdefghijklmnop") || strings.Contains(logs, "expo-secret-token") {
		t.Error("a whole token from Expo's message, or the access token, is in the log")
	}
	failures, _, _ := e.r.Samples("push")
	dead := 0
	for _, s := range failures {
		if s.Outcome == "receipt" && s.Reason == "device_not_registered" {
			dead++
			if !strings.HasPrefix(s.MessageID, "dead-") || !strings.Contains(s.Error, "remove it") || strings.Contains(s.Error, "abcdefghijklmnop") {
				t.Errorf("dead-token sample: %+v", s)
			}
		}
	}
	if dead != 2 {
		t.Errorf("%d dead-token samples in the destination view, want 2", dead)
	}
}

// A restart loses no ticket: the tickets still pending when the router
// stops (Expo is down, so none could be settled) are in RECEIPTS, and the
// next router checks them.
func TestPendingReceiptsSurviveARestart(t *testing.T) {
	t.Setenv("EXPO_ACCESS_TOKEN", "expo-secret-token")
	f := newFakeExpo(t)
	f.setDown(true)
	e := newEnv(t, "", map[string]string{"push": expoDest(f)})
	timing := router.ReceiptTiming{Delay: 100 * time.Millisecond, Recheck: 200 * time.Millisecond, Expiry: time.Hour, Backoff: 50 * time.Millisecond}
	r := e.startWith(timing)
	const n = 30
	for i := range n {
		e.publish("app", push(fmt.Sprintf("ok-%d", i)))
	}
	e.waitSettled("push", n, 20*time.Second)
	waitFor(t, 10*time.Second, func() bool { return e.receipts("push", "check_failed") > 0 }, func() string { return "no check failed while Expo is down" })
	pending := func() int { return int(testutil.ToFloat64(e.r.Metrics().ReceiptsPending.WithLabelValues("push"))) }
	waitFor(t, 10*time.Second, func() bool { return pending() == n }, func() string {
		return fmt.Sprintf("switchyard_receipts_pending %d, want %d", pending(), n)
	})
	r.Stop()
	if held := e.receiptsHeld(); held != n {
		t.Fatalf("RECEIPTS holds %d tickets at the stop, want %d pending", held, n)
	}
	if e.receipts("push", "ok") != 0 {
		t.Fatal("a receipt was settled while Expo was down")
	}

	before := map[int]int{}
	for i := range n {
		before[i] = f.timesAsked(fmt.Sprintf("tk-ok-%d", i))
	}
	f.setDown(false)
	e.startWith(timing)
	waitFor(t, 30*time.Second, func() bool { return e.receipts("push", "ok") == n && e.receiptsHeld() == 0 }, func() string {
		return fmt.Sprintf("after the restart: ok=%d check_failed=%d, RECEIPTS holds %d", e.receipts("push", "ok"), e.receipts("push", "check_failed"), e.receiptsHeld())
	})
	waitFor(t, 10*time.Second, func() bool { return pending() == 0 }, func() string {
		return fmt.Sprintf("switchyard_receipts_pending %d after every receipt was read, want 0", pending())
	})
	for i := range n {
		if f.timesAsked(fmt.Sprintf("tk-ok-%d", i)) <= before[i] {
			t.Fatalf("ticket %d was not asked about again after the restart", i)
		}
	}
}

// A replay's deliveries are checked too: `switchyard replay` stores the
// tickets, and the running router checks them. The 1,200 tickets are all
// due when the router starts, so its checks go 1,000 ids at a time.
func TestReplayedDeliveriesHaveTheirReceiptsChecked(t *testing.T) {
	t.Setenv("EXPO_ACCESS_TOKEN", "expo-secret-token")
	f := newFakeExpo(t)
	e := newEnv(t, "", map[string]string{"push": expoDest(f)})
	const n = 1200
	for i := range n {
		kind := "ok"
		if i%400 == 0 {
			kind = "dead"
		}
		e.publish("app", push(fmt.Sprintf("%s-r%d", kind, i)))
	}
	_, plans := e.load()
	rep, err := router.ReplayEvents(context.Background(), e.js, plans["push"], router.EventsFrom{FromSeq: 1}, nil, nil, nil)
	must(t, err)
	if rep.Outcomes[router.Delivered] != n || len(rep.Problems) > 0 {
		t.Fatalf("replay: %+v", rep)
	}
	if held := e.receiptsHeld(); held != n {
		t.Fatalf("RECEIPTS holds %d tickets after the replay, want %d", held, n)
	}
	e.startWith(router.ReceiptTiming{Delay: 50 * time.Millisecond, Backoff: 50 * time.Millisecond})
	waitFor(t, 30*time.Second, func() bool {
		return e.receipts("push", "ok") == n-3 && e.receipts("push", "device_not_registered") == 3 && e.receiptsHeld() == 0
	}, func() string {
		return fmt.Sprintf("ok=%d device_not_registered=%d, RECEIPTS holds %d", e.receipts("push", "ok"), e.receipts("push", "device_not_registered"), e.receiptsHeld())
	})
	f.mu.Lock()
	sizes := append([]int{}, f.sizes...)
	f.mu.Unlock()
	biggest, sum := 0, 0
	for _, s := range sizes {
		biggest, sum = max(biggest, s), sum+s
	}
	if biggest != 1000 || sum != n {
		t.Errorf("getReceipts sizes %v: want checks of 1,000 ids at most, the first full, %d ids in all", sizes, n)
	}
	if !strings.Contains(e.logs.String(), "messageId=dead-r800") {
		t.Error("the replayed event's dead token is not reported with its messageId")
	}
}
