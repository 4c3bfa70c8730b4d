package destinations_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/destinations/catalog/mixpanel"
)

// A tool that refuses a batch with a 400 naming the bad items (Mixpanel's
// strict import) fails those items only; a 400 naming nothing fails all.
func TestBatch400NamingItemsFailsOnlyThose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		if r.URL.Path == "/named" {
			_, _ = w.Write([]byte(`{"code":400,"failed_records":[{"index":1,"$insert_id":"b","field":"properties.time","message":"bad time"}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"error":"bad request"}`))
	}))
	defer srv.Close()
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t", ItemErrors: mixpanel.ItemErrors})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := s.Send(context.Background(), &destinations.Request{Method: "POST", URL: srv.URL + "/named", Body: []byte(`[{},{},{}]`), Items: 3})
	if res.Class != destinations.OK || len(res.ItemErrors) != 1 || res.ItemErrors[0].Index != 1 || res.ItemErrors[0].Class != destinations.Permanent {
		t.Fatalf("named 400: class %v, item errors %+v", res.Class, res.ItemErrors)
	}
	res = s.Send(context.Background(), &destinations.Request{Method: "POST", URL: srv.URL + "/unnamed", Body: []byte(`[{},{},{}]`), Items: 3})
	if res.Class != destinations.Permanent || len(res.ItemErrors) != 0 {
		t.Fatalf("unnamed 400: class %v, item errors %+v", res.Class, res.ItemErrors)
	}
}

// A single item's 4xx goes through the parser too: the item's class and the
// tool's reason become the request's (the dead letter says why, in the
// tool's words), and a reason the parser calls passing is retried. A 4xx the
// parser cannot read keeps its status's class and text.
func TestSingleItem4xxTakesTheParsersReasonAndClass(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"reason":"Unregistered"}`))
		case "/stale":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"reason":"Stale"}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`not json`))
		}
	}))
	defer srv.Close()
	parser := func(status int, body []byte, items int) []destinations.ItemError {
		var b struct{ Reason string }
		if status < 400 || json.Unmarshal(body, &b) != nil {
			return nil
		}
		class := destinations.Permanent
		if b.Reason == "Stale" {
			class = destinations.Retryable
		}
		out := make([]destinations.ItemError, items)
		for i := range out {
			out[i] = destinations.ItemError{Index: i, Class: class, Status: status, Message: b.Reason}
		}
		return out
	}
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t", Attempts: 1, ItemErrors: parser})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for path, want := range map[string]struct {
		class destinations.Class
		err   string
	}{
		"/gone":  {destinations.Permanent, "HTTP 410 Gone: Unregistered"},
		"/stale": {destinations.Retryable, "HTTP 403 Forbidden: Stale"},
		"/bad":   {destinations.Permanent, "HTTP 400 Bad Request"},
	} {
		res := s.Send(context.Background(), &destinations.Request{Method: "POST", URL: srv.URL + path, Body: []byte(`{}`), Items: 1})
		if res.Class != want.class || res.Err == nil || res.Err.Error() != want.err {
			t.Errorf("%s: class %v, error %v; want %v, %q", path, res.Class, res.Err, want.class, want.err)
		}
	}
}
