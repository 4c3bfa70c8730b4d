package iterable

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// users is a bulkUpdate request of the given items.
func users(items ...string) []byte {
	return []byte(`{"users":[` + strings.Join(items, ",") + `]}`)
}

// TestItemErrorsUnclearAnswers: whatever Iterable (or what stands in
// front of it) answers, an item Iterable may have refused is never
// reported delivered, and an answer that reports nothing refused fails
// nothing. testdata/item_errors.yaml runs the common answers through a
// real Sender and Batcher; these are the malformed ones.
func TestItemErrorsUnclearAnswers(t *testing.T) {
	two := users(`{"email":"a@example.com","userId":"u1"}`, `{"email":"b@example.com","userId":"u2"}`)
	for _, c := range []struct {
		name    string
		status  int
		body    string
		request []byte
		items   int
		failed  int    // items failed: 0, or all of them
		message string // text each failure contains
	}{
		{name: "5xx is left to the status", status: 503, body: `{"failCount":2}`, request: two, items: 2},
		{name: "3xx is left to the status", status: 302, body: `{"failCount":2}`, request: two, items: 2},
		{name: "empty 200", status: 200, body: ``, request: two, items: 2},
		{name: "null 200", status: 200, body: `null`, request: two, items: 2},
		{name: "a list, not an object", status: 200, body: `[]`, request: two, items: 2},
		{name: "zero failCount, empty lists", status: 200, body: `{"successCount":2,"failCount":0,"failedUpdates":{"invalidEmails":[]},"invalidEmails":[]}`, request: two, items: 2},
		{name: "negative failCount", status: 200, body: `{"failCount":-1}`, request: two, items: 2},
		{name: "failCount as text", status: 200, body: `{"failCount":"2"}`, request: two, items: 2, failed: 2, message: "not readable JSON"},
		{name: "failedUpdates not an object", status: 200, body: `{"failCount":1,"failedUpdates":["a@example.com"]}`, request: two, items: 2, failed: 2, message: "not readable JSON"},
		{name: "a list of numbers", status: 200, body: `{"failCount":1,"failedUpdates":{"invalidUserIds":[1]}}`, request: two, items: 2, failed: 2, message: "failedUpdates.invalidUserIds in Iterable's answer is not a list of texts"},
		{name: "a list named by neither email nor userId", status: 200, body: `{"failedUpdates":{"invalid":["x"]}}`, request: two, items: 2, failed: 2, message: "of a kind this parser does not know"},
		{name: "a truncated answer naming a user", status: 200, body: `{"successCount":1,"invalidEmails":["a@exa`, request: two, items: 2, failed: 2, message: "not readable JSON"},
		{name: "failures, and a request that is not JSON", status: 200, body: `{"failCount":1,"invalidEmails":["a@example.com"]}`, request: []byte(`{"users":[`), items: 2, failed: 2, message: "the request's items cannot be read"},
		{name: "failures, and a request of another size", status: 200, body: `{"failCount":1,"invalidEmails":["a@example.com"]}`, request: two, items: 3, failed: 3, message: "the request holds 2 items, the batch 3"},
		{name: "failures, and an item that is not an object", status: 200, body: `{"failCount":1,"invalidEmails":["a@example.com"]}`, request: users(`{"email":"a@example.com"}`, `"b"`), items: 2, failed: 2, message: "item 1 is not a JSON object"},
		{name: "an email that is a number in the request matches nothing", status: 200, body: `{"failCount":1,"failedUpdates":{"invalidEmails":["7"]}}`, request: users(`{"email":7}`, `{"email":"b@example.com"}`), items: 2, failed: 2, message: "which no item of the request carries"},
		{name: "a batch's 4xx is not split", status: 400, body: `{"code":"BadParams","msg":"bad"}`, request: two, items: 2},
		{name: "a single item's 4xx without Iterable's JSON", status: 400, body: `<html>400</html>`, request: []byte(`{"email":"a@example.com"}`), items: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ItemErrors(c.status, []byte(c.body), c.request, c.items)
			if len(got) != c.failed {
				t.Fatalf("%d items failed, want %d: %+v", len(got), c.failed, got)
			}
			for i, ie := range got {
				if ie.Index != i || ie.Class != destinations.Permanent || ie.Status != c.status || !strings.Contains(ie.Message, c.message) {
					t.Errorf("failure %d: %+v, want item %d permanent with status %d and %q", i, ie, i, c.status, c.message)
				}
			}
		})
	}
}

// TestItemErrorsReasons: an item named by several lists says each reason
// once, the deprecated lists add nothing failedUpdates said, and values are
// clipped in the message.
func TestItemErrorsReasons(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	req := users(`{"email":"a@","userId":"gone"}`, `{"email":"b@example.com","userId":"u2"}`, `{"userId":"`+long+`"}`)
	body := `{"successCount":0,"failCount":2,
		"failedUpdates":{"invalidEmails":["a@"],"forgottenUserIds":["gone"],"invalidUserIds":["` + long + `"]},
		"invalidEmails":["a@"],"invalidUserIds":["gone","gone","` + long + `"]}`
	got := ItemErrors(200, []byte(body), req, 3)
	if len(got) != 2 || got[0].Index != 0 || got[1].Index != 2 {
		t.Fatalf("failed %+v, want items 0 and 2", got)
	}
	want0 := `Iterable refused userId "gone": the user is GDPR-forgotten in this project (failedUpdates.forgottenUserIds); ` +
		`Iterable refused email "a@": malformed (failedUpdates.invalidEmails)`
	if got[0].Message != want0 {
		t.Errorf("item 0: %q\nwant %q", got[0].Message, want0)
	}
	if m := got[1].Message; !strings.Contains(m, "...") || len(m) > 300 || strings.Contains(m, "(invalidUserIds)") {
		t.Errorf("item 2: %q: want its value clipped, once, from failedUpdates", m)
	}
	if !strings.HasPrefix(clip(long), strings.Repeat("é", 100)) {
		t.Errorf("clip cut a character in two: %q", clip(long)[:10])
	}
}

// TestItemErrorsSingleEvent: the single-event endpoints' answers. A 2xx
// is accepted; a 4xx gives Iterable's code and message.
func TestItemErrorsSingleEvent(t *testing.T) {
	req := []byte(`{"email":"a@example.com","eventName":"A","id":"m1"}`)
	if got := ItemErrors(200, []byte(`{"msg":"ok","code":"Success","params":null}`), req, 1); got != nil {
		t.Fatalf("a single event's success failed it: %+v", got)
	}
	got := ItemErrors(401, []byte(`{"msg":"Invalid API key","code":"BadApiKey","params":null}`), req, 1)
	if len(got) != 1 || got[0].Class != destinations.Permanent || got[0].Message != "Iterable BadApiKey: Invalid API key" {
		t.Fatalf("401: %+v", got)
	}
	// A single event the 200 says failed (not what the single-event
	// endpoints answer, but a bulk request of one is alike) fails.
	got = ItemErrors(200, []byte(`{"failCount":1}`), req, 1)
	if len(got) != 1 || !strings.Contains(got[0].Message, "reports 1 failures but names 0") {
		t.Fatalf("a reported failure of one item: %+v", got)
	}
}
