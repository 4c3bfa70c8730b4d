package intercom

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

	"github.com/switchyard/switchyard/destinations"
)

// intercomServer is an Intercom-like API: contacts searched by field, a
// create that conflicts on an existing external_id or email, an update by
// id; companies retrieved by company_id (404 "company_not_found" when
// there is none), a contact attached to a company by both Intercom ids
// (404 for an unknown one); 401 without the token, 429 with Retry-After
// for the next `throttle` lookups.
type intercomServer struct {
	*httptest.Server
	mu         sync.Mutex
	contacts   map[string]map[string]string // id -> {external_id, email}
	companies  map[string]string            // company_id -> id
	attached   []string                     // "contact id -> company id"
	attachBody [][]byte
	calls      []string
	auths      []string // Authorization of each lookup
	down       bool
	throttle   int
}

func newIntercom(t *testing.T) *intercomServer {
	s := &intercomServer{companies: map[string]string{}, contacts: map[string]map[string]string{
		"6651a1": {"external_id": "u-42", "email": "jane@example.com"},
		"6651b2": {"email": "lead@example.com"},
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, r.Method+" "+r.URL.RequestURI())
		lookup := r.URL.Path == "/contacts/search" || (r.Method == "GET" && r.URL.Path == "/companies")
		if lookup {
			s.auths = append(s.auths, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"type":"error.list","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}`)
			return
		}
		if s.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if lookup && s.throttle > 0 {
			s.throttle--
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit of 10000 in 1_minute"}]}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == "GET" && r.URL.Path == "/companies":
			id, ok := s.companies[r.URL.Query().Get("company_id")]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"type":"error.list","request_id":"b3ca2c3e","errors":[{"code":"company_not_found","message":"Company Not Found"}]}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q,"name":"Acme","app_id":"ecahpwf5","company_id":%q,"user_count":0}`, id, r.URL.Query().Get("company_id")) //nolint:gosec // G705: a test fake's JSON answer
		case r.Method == "POST" && r.URL.Path == "/companies":
			var c struct {
				CompanyID string `json:"company_id"`
			}
			_ = json.Unmarshal(body, &c)
			if _, ok := s.companies[c.CompanyID]; !ok {
				s.companies[c.CompanyID] = fmt.Sprintf("66%04d", len(s.companies)+1)
			}
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q,"company_id":%q}`, s.companies[c.CompanyID], c.CompanyID)
		case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/contacts/") && strings.HasSuffix(r.URL.Path, "/companies"):
			contact := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/contacts/"), "/companies")
			var b struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &b)
			known := false
			for _, id := range s.companies {
				known = known || id == b.ID
			}
			if _, ok := s.contacts[contact]; !ok || !known {
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"type":"error.list","errors":[{"code":"not_found","message":"Contact Not Found"}]}`)
				return
			}
			s.attached = append(s.attached, contact+" -> "+b.ID)
			s.attachBody = append(s.attachBody, body)
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q}`, b.ID)
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
