package router_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
)

// iterableTool answers as Iterable's bulk endpoints do
// (https://api.iterable.com/api/docs, UserBulkUpdateListResponse and
// BulkTrackResponse): 200 with counts, and the emails and userIds it
// refused. It refuses an email without a domain ("bad@") and an event of a
// userId it does not know ("ghost"); purchases are single requests.
func iterableTool(t *testing.T) *tool {
	return newTool(t, func(_ int, r *http.Request, body []byte) (int, http.Header, string) {
		var req struct {
			Users  []map[string]any `json:"users"`
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return 400, nil, `{"code":"BadJsonBody","msg":"` + err.Error() + `"}`
		}
		ok, invalidEmails, notFound := 0, []string{}, []string{}
		for _, u := range req.Users {
			if e, _ := u["email"].(string); strings.HasSuffix(e, "@") {
				invalidEmails = append(invalidEmails, e)
				continue
			}
			ok++
		}
		for _, e := range req.Events {
			if e["userId"] == "ghost" {
				notFound = append(notFound, "ghost")
				continue
			}
			ok++
		}
		switch r.URL.Path {
		case "/api/users/bulkUpdate":
			b, _ := json.Marshal(map[string]any{"successCount": ok, "failCount": len(invalidEmails),
				"failedUpdates": map[string]any{"invalidEmails": invalidEmails}, "invalidEmails": invalidEmails})
			return 200, nil, string(b)
		case "/api/events/trackBulk":
			b, _ := json.Marshal(map[string]any{"successCount": ok, "failCount": len(notFound),
				"failedUpdates": map[string]any{"notFoundUserIds": notFound}, "invalidUserIds": notFound})
			return 200, nil, string(b)
		case "/api/commerce/trackPurchase":
			return 200, nil, `{"msg":"","code":"Success","params":null}`
		}
		return 404, nil, `{"code":"NotFound","msg":"no such endpoint"}`
	})
}

// TestIterableBulkFailsOnlyWhatIterableRefused: with the default presets,
// identifies and tracks reach Iterable in bulk requests, purchases one by
// one; of each bulk request, exactly the events of the users Iterable's
// 200 names are dead-lettered, with its reason, and the rest delivered.
func TestIterableBulkFailsOnlyWhatIterableRefused(t *testing.T) {
	tl := iterableTool(t)
	// max_items 3: each batch is sent when its three events are in, not
	// when the linger runs out.
	dest := fmt.Sprintf(`type: iterable
sources: [web]
settings:
  api_key: ${ITERABLE_TEST_KEY}
  endpoint: %s
actions:
  identify_bulk: {batch: {max_items: 3, linger: 1m}}
  track_bulk: {batch: {max_items: 3, linger: 1m}}
`, tl.URL) + fast
	t.Setenv("ITERABLE_TEST_KEY", "it-key")
	e := newEnv(t, "", map[string]string{"iterable": dest})
	e.start()
	identify := func(id, user, email string) map[string]any {
		return map[string]any{"type": "identify", "messageId": id, "userId": user, "traits": map[string]any{"email": email, "plan": "pro"}}
	}
	e.publish("web", identify("id-1", "u1", "a@example.com"))
	e.publish("web", identify("id-2", "u2", "bad@"))
	e.publish("web", identify("id-3", "u3", "c@example.com"))
	e.publish("web", track("tr-1", "u1", "Signed Up", nil))
	e.publish("web", track("tr-2", "ghost", "Signed Up", nil))
	e.publish("web", track("tr-3", "u3", "Signed Up", nil))
	e.publish("web", track("oc-1", "u1", "Order Completed", map[string]any{"order_id": "o-1", "total": 10,
		"products": []any{map[string]any{"product_id": "p1", "name": "Pen", "price": 10, "quantity": 1}}}))
	e.waitSettled("iterable", 7, 20*time.Second)
	if e.count("iterable", router.Delivered) != 5 || e.count("iterable", router.DeadLettered) != 2 {
		t.Fatalf("outcomes %s, want 5 delivered and the 2 refused dead-lettered", e.outcomes("iterable"))
	}

	paths := map[string]int{}
	for _, r := range tl.all() {
		paths[r.Path]++
		if r.Header.Get("Api-Key") != "it-key" {
			t.Errorf("%s without the API key", r.Path)
		}
		var bulk struct {
			Users, Events []json.RawMessage
		}
		_ = json.Unmarshal(r.Body, &bulk)
		if strings.HasSuffix(r.Path, "bulkUpdate") && len(bulk.Users) != 3 || strings.HasSuffix(r.Path, "trackBulk") && len(bulk.Events) != 3 {
			t.Errorf("%s carried %d users and %d events, want the batch of 3: %s", r.Path, len(bulk.Users), len(bulk.Events), r.Body)
		}
	}
	if paths["/api/users/bulkUpdate"] != 1 || paths["/api/events/trackBulk"] != 1 || paths["/api/commerce/trackPurchase"] != 1 || len(paths) != 3 {
		t.Fatalf("requests by path %v, want one bulkUpdate, one trackBulk and one trackPurchase", paths)
	}

	reasons := map[string]string{}
	for _, dl := range e.dlq("iterable") {
		reasons[dl.MessageID] = dl.Reason
	}
	want := map[string]string{
		"id-2": `Iterable refused email "bad@": malformed (failedUpdates.invalidEmails)`,
		"tr-2": `Iterable refused userId "ghost": no such user (failedUpdates.notFoundUserIds)`,
	}
	if len(reasons) != len(want) {
		t.Fatalf("dead letters %v, want %v", reasons, want)
	}
	for id, w := range want {
		if !strings.Contains(reasons[id], w) {
			t.Errorf("dead letter of %s: %q, want it to say %q", id, reasons[id], w)
		}
	}
}
