package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// waitDone waits for a regulation to be done everywhere and returns it.
func (e *env) waitDone(id string, within time.Duration) regulations.Report {
	e.t.Helper()
	var rep regulations.Report
	waitFor(e.t, within, func() bool {
		var err error
		rep, err = e.r.Regulations().Report(context.Background(), id)
		return err == nil && rep.Status != regulations.Pending && rep.Status != regulations.Running
	}, func() string { return fmt.Sprintf("regulation %s: %+v", id, rep) })
	return rep
}

func statusAt(rep regulations.Report, dest string) regulations.DestStatus {
	for _, d := range rep.Deletions {
		if d.Destination == dest {
			return d
		}
	}
	return regulations.DestStatus{}
}

func manyUsers(n int) []plan.User {
	us := make([]plan.User, n)
	for i := range us {
		us[i] = plan.User{UserID: fmt.Sprintf("u-%02d", i+1)}
	}
	return us
}

// A deletion goes to each destination in scope through its sender: Braze
// batched 25 users a request; a 429 and then a 500 retried (in the sender,
// then by redelivering the task) until the tool accepts; a 400 failed with
// the tool's answer; Slack not supported; a webhook receives one delete
// event per user. The overall status is partial.
func TestDeletionReachesEachDestination(t *testing.T) {
	ok := newTool(t, func(n int, r *http.Request, _ []byte) (int, http.Header, string) {
		switch n {
		case 0:
			return 429, http.Header{"Retry-After": {"0"}}, `{"message":"slow down"}`
		case 1, 2:
			return 500, nil, `{"message":"oops"}`
		}
		return 201, nil, `{"deleted":25,"message":"success"}`
	})
	bad := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		return 400, nil, `{"message":"Invalid API key: this key lacks the users.delete permission"}`
	})
	hook := newTool(t, nil)
	e := newEnv(t, "", map[string]string{
		"braze":  fmt.Sprintf("type: braze\nsettings:\n  api_key: ${BRAZE_KEY}\n  endpoint: %s\n", ok.URL) + fast,
		"braze2": fmt.Sprintf("type: braze\nsettings:\n  api_key: ${BRAZE_KEY}\n  endpoint: %s\n", bad.URL) + fast,
		"chat":   "type: slack\nsettings:\n  webhook_url: https://hooks.slack.com/services/T/B/${SLACK_TOKEN}\n  events: Signed Up\n",
		"hook":   fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", hook.URL) + fast,
	})
	t.Setenv("BRAZE_KEY", "braze-key")
	t.Setenv("SLACK_TOKEN", "tok")
	e.start()
	rep := e.regulate(regulations.Delete, nil, manyUsers(60)...)
	if len(rep.Deletions) != 4 || statusAt(rep, "chat").State != regulations.NotSupported {
		t.Fatalf("at submission: %+v", rep)
	}
	rep = e.waitDone(rep.ID, 30*time.Second)
	if rep.Status != regulations.Partial {
		t.Errorf("overall %s, want partial", rep.Status)
	}

	st := statusAt(rep, "braze")
	if st.State != regulations.Finished || st.Status != 201 || st.Attempts < 2 || len(st.Done) != 3 {
		t.Errorf("braze: %+v", st)
	}
	reqs := ok.all()
	if len(reqs) != 6 {
		t.Fatalf("braze got %d requests, want 6 (the first batch three times: 429, 500, 500, then 3 batches)", len(reqs))
	}
	seen := map[string]int{}
	batchSizes := []int{25, 25, 10}
	for i, r := range reqs {
		if r.Method != "POST" || r.Path != "/users/delete" || r.Header.Get("Authorization") != "Bearer braze-key" {
			t.Errorf("request %d: %s %s %v", i, r.Method, r.Path, r.Header.Get("Authorization"))
		}
		var body struct {
			ExternalIDs []string `json:"external_ids"`
		}
		must(t, json.Unmarshal(r.Body, &body))
		if i < 3 && string(r.Body) != string(reqs[0].Body) {
			t.Errorf("the retry of the first batch changed: %s", r.Body)
		}
		if i >= 3 {
			for _, id := range body.ExternalIDs {
				seen[id]++
			}
			if k := i - 3; k < len(batchSizes) && len(body.ExternalIDs) != batchSizes[k] {
				t.Errorf("batch %d holds %d users, want %d", k, len(body.ExternalIDs), batchSizes[k])
			}
		}
	}
	if len(seen) != 60 {
		t.Errorf("%d distinct users deleted, want 60", len(seen))
	}

	st = statusAt(rep, "braze2")
	if st.State != regulations.Failed || st.Status != 400 || !strings.Contains(st.Answer, "users.delete permission") || !strings.Contains(st.Detail, "delete#0") {
		t.Errorf("braze2: %+v", st)
	}
	if n := len(bad.all()); n != 1 {
		t.Errorf("a 400 was sent %d times: it is permanent", n)
	}
	if st := statusAt(rep, "chat"); st.State != regulations.NotSupported || !strings.Contains(st.Detail, "incoming webhook") {
		t.Errorf("slack: %+v", st)
	}

	st = statusAt(rep, "hook")
	if st.State != regulations.Finished {
		t.Errorf("webhook: %+v", st)
	}
	users := map[string]bool{}
	for _, r := range hook.all() {
		var ev map[string]any
		must(t, json.Unmarshal(r.Body, &ev))
		if ev["type"] != "delete" || r.Header.Get("webhook-id") != ev["messageId"] {
			t.Errorf("webhook got %s (webhook-id %s)", r.Body, r.Header.Get("webhook-id"))
		}
		users[fmt.Sprint(ev["userId"])] = true
	}
	if len(users) != 60 {
		t.Errorf("the webhook got delete events for %d users, want 60", len(users))
	}
	m := e.r.Metrics().Deletions
	if testutil.ToFloat64(m.WithLabelValues("braze", "finished")) != 1 || testutil.ToFloat64(m.WithLabelValues("braze", "retried")) < 1 ||
		testutil.ToFloat64(m.WithLabelValues("braze2", "failed")) != 1 {
		t.Error("switchyard_deletions_total does not match the runs")
	}
}

// A lookup runs before its delete, through the same sender; a lookup that
// finds nothing (SendGrid's 404) finishes the deletion with nothing to
// delete; the whole answer is read, beyond the excerpt a dead letter keeps.
func TestDeletionWithALookup(t *testing.T) {
	pad := strings.Repeat("x", 3000) // an answer larger than the 1 KiB excerpt
	tl := newTool(t, func(_ int, r *http.Request, body []byte) (int, http.Header, string) {
		switch {
		case r.URL.Path == "/v3/marketing/contacts/search/emails" && strings.Contains(string(body), "found@example.com"):
			return 200, nil, `{"result":{"found@example.com":{"contact":{"id":"c-1","notes":"` + pad + `"}}}}`
		case r.URL.Path == "/v3/marketing/contacts/search/emails":
			return 404, nil, `{"errors":[{"message":"No contacts found"}]}`
		case r.Method == "DELETE":
			return 202, nil, `{"job_id":"j-1"}`
		}
		return 400, nil, "unexpected"
	})
	e := newEnv(t, "", map[string]string{
		"sg": fmt.Sprintf("type: sendgrid\nsettings:\n  api_key: ${SG_KEY}\n  endpoint: %s\n", tl.URL) + fast,
	})
	t.Setenv("SG_KEY", "sg-key")
	e.start()
	rep := e.regulate(regulations.Delete, nil, plan.User{UserID: "u-1", Email: "found@example.com"})
	rep = e.waitDone(rep.ID, 20*time.Second)
	if st := statusAt(rep, "sg"); st.State != regulations.Finished || st.Status != 202 {
		t.Errorf("found: %+v", st)
	}
	if reqs := tl.all(); len(reqs) != 2 || reqs[1].Method != "DELETE" || reqs[1].Path != "/v3/marketing/contacts?ids=c-1" {
		t.Errorf("requests %+v", reqs)
	}
	rep = e.regulate(regulations.Delete, nil, plan.User{UserID: "u-2", Email: "missing@example.com"})
	rep = e.waitDone(rep.ID, 20*time.Second)
	if st := statusAt(rep, "sg"); st.State != regulations.Finished || !strings.Contains(st.Detail, "holds no such user") {
		t.Errorf("not found: %+v", st)
	}
	if n := len(tl.all()); n != 3 {
		t.Errorf("%d requests, want 3 (nothing deleted for the unknown email): %+v", n, tl.all())
	}
	// The lookup's answer (the person's profile) is never recorded.
	if st := statusAt(rep, "sg"); strings.Contains(st.Answer, "xxxx") {
		t.Error("the lookup's answer was recorded")
	}
}

// Regulations through the admin API, behind admin.token: submit, list,
// status; a refused regulation is a 400 naming the problem.
func TestRegulationsAdminAPI(t *testing.T) {
	hook := newTool(t, nil)
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", hook.URL) + fast})
	r := e.start()
	admin := httptest.NewServer(r.AdminHandler("s3cret"))
	t.Cleanup(admin.Close)
	srv := admin.URL
	do := func(method, path, body string, auth bool) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := do("POST", "/v1/regulations", `{"type":"delete","userId":"u-1"}`, false); code != 401 {
		t.Errorf("without the token: %d", code)
	}
	if code, _ := do("GET", "/v1/regulations", "", false); code != 401 {
		t.Errorf("list without the token: %d", code)
	}
	code, out := do("POST", "/v1/regulations", `{"type":"suppress_with_delete","userId":"u-1","anonymousId":"a-1","reason":"ticket 1","requestedBy":"dpo@example.com"}`, true)
	if code != 201 || out["id"] == nil || out["type"] != "suppress_with_delete" || !strings.Contains(fmt.Sprint(out["requestedBy"]), "dpo@example.com (admin API") {
		t.Fatalf("submit: %d %v", code, out)
	}
	id := out["id"].(string)
	waitFor(t, 20*time.Second, func() bool {
		_, got := do("GET", "/v1/regulations/"+id, "", true)
		return got["status"] == "finished"
	}, func() string { _, got := do("GET", "/v1/regulations/"+id, "", true); return fmt.Sprint(got) })
	if !r.Suppressions().SuppressedEverywhere("", "a-1") {
		t.Error("the anonymousId is not suppressed")
	}
	if code, out := do("GET", "/v1/regulations", "", true); code != 200 || len(out["regulations"].([]any)) != 1 {
		t.Errorf("list: %d %v", code, out)
	}
	code, out = do("POST", "/v1/regulations", `{"type":"delete","userId":"u-1","destinations":["nope"]}`, true)
	if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "no destination nope (known: hook)") {
		t.Errorf("unknown destination: %d %v", code, out)
	}
	if code, out := do("POST", "/v1/regulations", `{"type":"delete","user":"u-1"}`, true); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "unknown field") {
		t.Errorf("unknown field: %d %v", code, out)
	}
	if code, _ := do("GET", "/v1/regulations/rg-missing", "", true); code != 404 {
		t.Errorf("unknown id: %d", code)
	}
}
