package destinations_test

import (
	"context"
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
