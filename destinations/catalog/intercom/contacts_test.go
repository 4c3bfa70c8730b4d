package intercom

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// intercomServer is an Intercom-like API: contacts searched by field, a
// create that conflicts on an existing external_id or email, and an
// update by id.
type intercomServer struct {
	*httptest.Server
	mu       sync.Mutex
	contacts map[string]map[string]string // id -> {external_id, email}
	calls    []string
	down     bool
}

func newIntercom(t *testing.T) *intercomServer {
	s := &intercomServer{contacts: map[string]map[string]string{
		"6651a1": {"external_id": "u-42", "email": "jane@example.com"},
		"6651b2": {"email": "lead@example.com"},
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if s.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == "POST" && r.URL.Path == "/contacts/search":
			var q struct {
				Query struct {
					Field, Operator string
					Value           any
				}
			}
			_ = json.Unmarshal(body, &q)
			var ids []string
			for id, c := range s.contacts {
				if q.Query.Operator == "=" && c[q.Query.Field] == q.Query.Value {
					ids = append(ids, `{"type":"contact","id":"`+id+`"}`)
				}
			}
			_, _ = io.WriteString(w, `{"type":"list","data":[`+strings.Join(ids, ",")+`],"total_count":`+string(rune('0'+len(ids)))+`}`)
		case r.Method == "POST" && r.URL.Path == "/contacts":
			w.WriteHeader(http.StatusOK)
		case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/contacts/"):
			if _, ok := s.contacts[strings.TrimPrefix(r.URL.Path, "/contacts/")]; !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func authorize(t *testing.T, a destinations.Authorizer, r *destinations.Request) error {
	t.Helper()
	return a.Authorize(context.Background(), r)
}

func TestAnExistingContactIsUpdatedAndANewOneCreated(t *testing.T) {
	srv := newIntercom(t)
	a, err := NewContacts(map[string]any{"access_token": "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body, method, path string
	}{
		{"known by external_id", `{"role":"user","external_id":"u-42","email":"new@example.com"}`, "PUT", "/contacts/6651a1"},
		{"known by email only", `{"role":"lead","email":"lead@example.com"}`, "PUT", "/contacts/6651b2"},
		{"unknown", `{"role":"user","external_id":"u-7","email":"x@example.com"}`, "POST", "/contacts"},
	} {
		r := &destinations.Request{Method: "POST", URL: srv.URL + "/contacts", Body: []byte(c.body), Items: 1,
			Header: http.Header{"Intercom-Version": {"2.11"}}}
		if err := authorize(t, a, r); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Method != c.method || r.URL != srv.URL+c.path {
			t.Errorf("%s: %s %s, want %s %s", c.name, r.Method, r.URL, c.method, srv.URL+c.path)
		}
		if r.Header.Get("Authorization") != "Bearer tok-1" || string(r.Body) != c.body {
			t.Errorf("%s: headers %v body %s", c.name, r.Header, r.Body)
		}
	}
	// Data events and companies are only authorized, never searched for.
	srv.calls = nil
	ev := &destinations.Request{Method: "POST", URL: srv.URL + "/events", Body: []byte(`{"event_name":"x","user_id":"u-42"}`), Items: 1}
	if err := authorize(t, a, ev); err != nil || ev.URL != srv.URL+"/events" || len(srv.calls) != 0 {
		t.Errorf("an event request was resolved: %v %s %v", err, ev.URL, srv.calls)
	}
}

func TestAFailedContactSearchIsAnErrorSoTheSendIsRetried(t *testing.T) {
	srv := newIntercom(t)
	srv.down = true
	a, _ := NewContacts(map[string]any{"access_token": "tok-1"})
	r := &destinations.Request{Method: "POST", URL: srv.URL + "/contacts", Body: []byte(`{"external_id":"u-42"}`), Items: 1}
	err := authorize(t, a, r)
	if err == nil || !strings.Contains(err.Error(), "searching the Intercom contact by external_id: HTTP 503") {
		t.Fatalf("error %v", err)
	}
	if r.Method != "POST" {
		t.Error("the request was changed although the search failed")
	}
	if _, err := NewContacts(map[string]any{}); err == nil || !strings.Contains(err.Error(), "access_token is empty") {
		t.Errorf("no token: %v", err)
	}
}
