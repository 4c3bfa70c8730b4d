package destinations

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestStandardItemErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"accepted", 200, `{"errors":[{"index":0,"status":400}]}`, 3, nil},
		{"one bad", 207, `{"errors":[{"index":2,"status":400,"message":"bad email"}]}`, 3,
			[]ItemError{{Index: 2, Class: Permanent, Status: 400, Message: "bad email"}}},
		{"retryable item", 207, `{"errors":[{"index":0,"status":503,"message":"later"},{"index":1,"message":"no status"}]}`, 2,
			[]ItemError{{Index: 0, Class: Retryable, Status: 503, Message: "later"}, {Index: 1, Class: Permanent, Message: "no status"}}},
		{"ignored entries", 207, `{"errors":[{"index":5,"status":400},{"status":400},{"index":0,"status":200},{"index":1,"status":422},{"index":1,"status":500}]}`, 2,
			[]ItemError{{Index: 1, Class: Permanent, Status: 422, Message: "rejected by the receiver"}}},
		{"none failed", 207, `{"errors":[]}`, 2, nil},
	}
	for _, c := range cases {
		got := StandardItemErrors(c.status, []byte(c.body), c.items)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	got := StandardItemErrors(207, []byte(`<html>partial</html>`), 2)
	if len(got) != 2 || got[0].Class != Permanent || got[1].Index != 1 {
		t.Errorf("unreadable 207: %+v", got)
	}
}

func TestItemErrorsRegistry(t *testing.T) {
	if _, ok := ItemErrorsParser("standard"); !ok {
		t.Fatal("standard parser not registered")
	}
	if _, ok := ItemErrorsParser("nope"); ok {
		t.Fatal("unknown parser found")
	}
	if _, ok := ItemErrorsParser("test-registry"); !ok { // registered once per process, for -count
		RegisterItemErrors("test-registry", func(int, []byte, int) []ItemError { return nil })
	}
	if _, ok := ItemErrorsParser("test-registry"); !ok {
		t.Fatal("registered parser not found")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	RegisterItemErrors("standard", StandardItemErrors)
}

// A matcher shares the parsers' names: either kind registered under a
// name the other holds panics, and ItemErrorsMatcher finds both kinds.
func TestItemErrorMatcherRegistry(t *testing.T) {
	if _, ok := ItemErrorsMatcher("test-matcher"); !ok { // once per process, for -count
		RegisterItemErrorMatcher("test-matcher", func(int, []byte, []byte, int) []ItemError {
			return []ItemError{{Index: 0, Class: Permanent, Message: "matched"}}
		})
	}
	m, ok := ItemErrorsMatcher("test-matcher")
	if !ok || m(200, nil, nil, 1)[0].Message != "matched" {
		t.Fatal("registered matcher not found")
	}
	if _, ok := ItemErrorsParser("test-matcher"); ok {
		t.Fatal("a matcher is found as a parser, which would drop its request")
	}
	std, ok := ItemErrorsMatcher("standard")
	if !ok || len(std(207, []byte(`{"errors":[{"index":1}]}`), nil, 2)) != 1 {
		t.Fatal("the standard parser is not found as a matcher")
	}
	if !slices.Contains(ItemErrorsParsers(), "test-matcher") || !slices.Contains(ItemErrorsParsers(), "standard") {
		t.Fatalf("names %v lack a kind", ItemErrorsParsers())
	}
	for _, register := range []func(){
		func() {
			RegisterItemErrorMatcher("standard", func(int, []byte, []byte, int) []ItemError { return nil })
		},
		func() { RegisterItemErrors("test-matcher", StandardItemErrors) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a name taken by the other kind was registered again")
				}
			}()
			register()
		}()
	}
}

// TestSenderItemMatcherSeesTheRequest: the Batcher's request body reaches
// the matcher as sent, and the item it names by content alone fails.
func TestSenderItemMatcherSeesTheRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"failed":["b@example.com"]}`))
	}))
	defer srv.Close()
	var seen []byte
	match := func(status int, body, request []byte, items int) []ItemError {
		seen = append([]byte(nil), request...)
		var req struct {
			Users []struct {
				Email string `json:"email"`
			} `json:"users"`
		}
		if json.Unmarshal(request, &req) != nil || len(req.Users) != items {
			return AllItemsFail(items, Permanent, status, "unreadable request")
		}
		var out []ItemError
		for i, u := range req.Users {
			if bytes.Contains(body, []byte(`"`+u.Email+`"`)) {
				out = append(out, ItemError{Index: i, Class: Permanent, Status: status, Message: "refused " + u.Email})
			}
		}
		return out
	}
	s, err := NewSender(SenderConfig{Name: "matcher", Attempts: 1, ItemMatcher: match, ItemErrors: func(int, []byte, int) []ItemError {
		t.Error("ItemErrors ran although ItemMatcher is set")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := NewBatcher(BatchSpec{Key: "users", MaxItems: 3}, s.Send)
	got := make([]Result, 3)
	var wg sync.WaitGroup
	wg.Add(3)
	for i, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		b.Add(&Request{Method: "POST", URL: srv.URL, Body: []byte(`{"email":"` + e + `"}`), Items: 1, ValidJSON: true, Action: "bulk"},
			func(r Result) { got[i] = r; wg.Done() })
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := `{"users":[{"email":"a@example.com"},{"email":"b@example.com"},{"email":"c@example.com"}]}`; string(seen) != want {
		t.Fatalf("the matcher saw %s, want %s", seen, want)
	}
	for i, want := range []Class{OK, Permanent, OK} {
		if got[i].Class != want {
			t.Errorf("item %d: %s (%v), want %s", i, got[i].Class, got[i].Err, want)
		}
	}
	if got[1].Err == nil || !strings.Contains(got[1].Err.Error(), "refused b@example.com") {
		t.Errorf("item 1's error %v does not give the matcher's reason", got[1].Err)
	}
}
