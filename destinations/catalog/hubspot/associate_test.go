package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/golden"
)

// crm is a HubSpot-like CRM: companies upserted by segment_group_id (a
// unique property) and read by it, contacts read by email (any case), the
// v4 default association between known ids, 404 with HubSpot's error body
// for unknown records, 401 without the token, and 429 with Retry-After
// (HubSpot's secondly limit) for the next `throttle` reads.
type crm struct {
	*httptest.Server
	token string

	mu        sync.Mutex
	companies map[string]string // segment_group_id -> id
	contacts  map[string]string // lower-case email -> id
	assoc     []string          // "company id -> contact id"
	reads     []string          // escaped paths of the GETs
	auths     []string          // Authorization of each GET
	throttle  int
	forbid    string // an object type whose reads answer 403 (a missing scope)
	nextID    int
}

const notFound = `{"status":"error","message":"resource not found","correlationId":"9a5e3c1e-0d5b-4f6a-8c3e-6f1b2b7b1c11","category":"OBJECT_NOT_FOUND"}`

func newCRM(t *testing.T, token string) *crm {
	c := &crm{token: token, companies: map[string]string{}, contacts: map[string]string{"jane@example.com": "301"}, nextID: 9000}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *crm) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		c.reads = append(c.reads, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		c.auths = append(c.auths, r.Header.Get("Authorization"))
	}
	if r.Header.Get("Authorization") != "Bearer "+c.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i := range parts {
		parts[i], _ = url.PathUnescape(parts[i])
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 5 && parts[0] == "crm" && parts[2] == "objects":
		if c.throttle > 0 {
			c.throttle--
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","policyName":"SECONDLY"}`)
			return
		}
		if parts[3] == c.forbid {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","category":"MISSING_SCOPES"}`)
			return
		}
		var id string
		switch want := r.URL.Query().Get("idProperty"); {
		case parts[3] == "companies" && want == "segment_group_id":
			id = c.companies[parts[4]]
		case parts[3] == "contacts" && want == "email":
			id = c.contacts[strings.ToLower(parts[4])]
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"status":"error","message":"Property %s is not a unique identifier","category":"VALIDATION_ERROR"}`, want) //nolint:gosec // G705: a test fake's JSON answer
			return
		}
		if id == "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, notFound)
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":%q,"properties":{"hs_object_id":%q},"createdAt":"2024-03-01T10:00:00Z","updatedAt":"2024-03-01T10:00:00Z","archived":false}`, id, id)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/companies/batch/upsert":
		var in struct {
			Inputs []struct{ ID, IDProperty string }
		}
		_ = json.Unmarshal(body, &in)
		for _, i := range in.Inputs {
			if c.companies[i.ID] == "" {
				c.nextID++
				c.companies[i.ID] = fmt.Sprint(c.nextID)
			}
		}
		_, _ = io.WriteString(w, `{"status":"COMPLETE","results":[]}`)
	case r.Method == http.MethodPut && len(parts) == 9 && parts[2] == "objects" && parts[3] == "company" && parts[5] == "associations":
		known := func(m map[string]string, id string) bool {
			for _, v := range m {
				if v == id {
					return true
				}
			}
			return false
		}
		if len(body) != 0 || !known(c.companies, parts[4]) || !known(c.contacts, parts[8]) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","message":"invalid association","category":"VALIDATION_ERROR"}`)
			return
		}
		c.assoc = append(c.assoc, parts[4]+" -> "+parts[8])
		// The default association's answer: a batch response with the
		// association made (company to contact is HubSpot-defined type 280).
		_, _ = fmt.Fprintf(w, `{"status":"COMPLETE","results":[{"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":280},"from":{"id":%q},"to":{"id":%q}}],"startedAt":"2024-03-01T10:00:00Z","completedAt":"2024-03-01T10:00:00Z"}`, parts[4], parts[8]) //nolint:gosec // G705: a test fake's JSON answer
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, notFound)
	}
}

// renderedRequest returns the associate_company request of a golden case, pointed
// at base: what the preset renders, so the authorizer is tested on it.
func renderedRequest(t *testing.T, name, base string) *destinations.Request {
	t.Helper()
	return golden.Request(t, name, "associate_company", "https://api.hubapi.com", base)
}

func newSender(t *testing.T) *destinations.Sender {
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "hubspot", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func authError(t *testing.T, err error) *destinations.AuthError {
	t.Helper()
	var ae *destinations.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want a *destinations.AuthError", err, err)
	}
	return ae
}

// The company upsert of the same group call is batched, so the
// association's lookup usually runs first: the company is not there, the
// send is Retryable with that reason, and the retry (a fresh rendering, as
// the router's redelivery makes) associates once the upsert has landed.
func TestACompanyNotYetThereIsRetriedThenAssociated(t *testing.T) {
	srv := newCRM(t, "pat-1")
	a, err := NewAuth(map[string]any{"access_token": "pat-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t)

	r := renderedRequest(t, "group_associate_contact", srv.URL)
	rendered := r.URL
	ae := authError(t, a.Authorize(context.Background(), r))
	if ae.Class != destinations.Retryable || !strings.Contains(ae.Error(), `company whose segment_group_id is "acme/eu" is not there yet`) {
		t.Fatalf("class %v, reason %q", ae.Class, ae)
	}
	if r.URL != rendered || len(srv.assoc) != 0 {
		t.Fatalf("a failed lookup changed the request (%s) or associated %v", r.URL, srv.assoc)
	}

	up := &destinations.Request{Method: "POST", URL: srv.URL + "/crm/v3/objects/companies/batch/upsert", Items: 1,
		Header: http.Header{"Authorization": {"Bearer pat-1"}, "Content-Type": {"application/json"}},
		Body:   []byte(`{"inputs":[{"idProperty":"segment_group_id","id":"acme/eu","properties":{"segment_group_id":"acme/eu"}}]}`)}
	if res := s.Send(context.Background(), up); res.Class != destinations.OK {
		t.Fatalf("upsert: %v", res.Err)
	}

	r = renderedRequest(t, "group_associate_contact", srv.URL)
	if err := a.Authorize(context.Background(), r); err != nil {
		t.Fatalf("after the upsert: %v", err)
	}
	companyID := srv.companies["acme/eu"]
	if want := srv.URL + "/crm/v4/objects/company/" + companyID + "/associations/default/contact/301"; r.URL != want || r.Body != nil || r.Header.Get("Content-Type") != "" {
		t.Fatalf("resolved to %s %s (Content-Type %q), want %s without a body", r.URL, r.Body, r.Header.Get("Content-Type"), want)
	}
	if res := s.Send(context.Background(), r); res.Class != destinations.OK {
		t.Fatalf("association: HTTP %d %v", res.Status, res.Err)
	}
	if len(srv.assoc) != 1 || srv.assoc[0] != companyID+" -> 301" {
		t.Fatalf("associations %v", srv.assoc)
	}
	// The groupId is path-escaped (it cannot change the route), the email
	// is read case-insensitively, and every read carries the token.
	want := []string{
		"/crm/v3/objects/companies/acme%2Feu?idProperty=segment_group_id&properties=segment_group_id",
		"/crm/v3/objects/companies/acme%2Feu?idProperty=segment_group_id&properties=segment_group_id",
		"/crm/v3/objects/contacts/Jane@Example.com?idProperty=email&properties=email",
	}
	if fmt.Sprint(srv.reads) != fmt.Sprint(want) {
		t.Errorf("reads\n%v\nwant\n%v", srv.reads, want)
	}
	for _, h := range srv.auths {
		if h != "Bearer pat-1" {
			t.Errorf("a lookup carried Authorization %q", h)
		}
	}
	// A resolved request (a dead letter replayed) is sent as it is.
	srv.reads = nil
	if err := a.Authorize(context.Background(), r); err != nil || len(srv.reads) != 0 {
		t.Errorf("a resolved request was looked up again: %v %v", err, srv.reads)
	}
}

func TestAContactNotThereIsRetriedWithItsReason(t *testing.T) {
	srv := newCRM(t, "pat-1")
	srv.companies["acme/eu"] = "77"
	delete(srv.contacts, "jane@example.com")
	a, _ := NewAuth(map[string]any{"access_token": "pat-1"})
	r := renderedRequest(t, "group_associate_contact", srv.URL)
	ae := authError(t, a.Authorize(context.Background(), r))
	if ae.Class != destinations.Retryable || !strings.Contains(ae.Error(), "no HubSpot contact has the email this group call names") ||
		!strings.Contains(ae.Error(), "the identify preset creates it") {
		t.Fatalf("class %v, reason %q", ae.Class, ae)
	}
	if strings.Contains(ae.Error(), "Jane@Example.com") || strings.Contains(ae.Error(), "pat-1") {
		t.Errorf("the reason carries the email or the token: %q", ae)
	}
}

func TestLookupFailuresAreClassifiedLikeSends(t *testing.T) {
	srv := newCRM(t, "pat-1")
	srv.companies["acme/eu"] = "77"
	a, _ := NewAuth(map[string]any{"access_token": "pat-1"})

	srv.throttle = 1
	ae := authError(t, a.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", srv.URL)))
	if ae.Class != destinations.Retryable || ae.RetryAfter != 2*time.Second || !strings.Contains(ae.Error(), "HTTP 429") {
		t.Errorf("429: class %v, Retry-After %v, %q", ae.Class, ae.RetryAfter, ae)
	}

	srv.forbid = "contacts"
	ae = authError(t, a.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", srv.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "HTTP 403") || !strings.Contains(ae.Error(), "crm.objects.contacts.read scope") {
		t.Errorf("403: class %v, %q", ae.Class, ae)
	}
	srv.forbid = ""

	bad := renderedRequest(t, "group_associate_contact", srv.URL)
	bad.Body = []byte(strings.Replace(string(bad.Body), "segment_group_id", "name", 1))
	ae = authError(t, a.Authorize(context.Background(), bad))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "HTTP 400") || !strings.Contains(ae.Error(), "not a unique identifier") {
		t.Errorf("400: class %v, %q", ae.Class, ae)
	}

	wrong, _ := NewAuth(map[string]any{"access_token": "pat-revoked"})
	ae = authError(t, wrong.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", srv.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "HTTP 401") || strings.Contains(ae.Error(), "pat-revoked") {
		t.Errorf("401: class %v, %q", ae.Class, ae)
	}

	srv.Close()
	ae = authError(t, a.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", srv.URL)))
	if ae.Class != destinations.Retryable || strings.Contains(ae.Error(), "acme") || strings.Contains(ae.Error(), "Example.com") || strings.Contains(ae.Error(), "pat-1") {
		t.Errorf("tool down: class %v, %q (the URL must not be in it)", ae.Class, ae)
	}
}

func TestLookupsHonourDenyPrivate(t *testing.T) {
	srv := newCRM(t, "pat-1")
	a, _ := NewAuth(map[string]any{"access_token": "pat-1"})
	a.(destinations.PrivateDenier).DenyPrivate()
	ae := authError(t, a.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", srv.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "deny_private_destinations") {
		t.Fatalf("class %v, %q", ae.Class, ae)
	}
	if len(srv.reads) != 0 {
		t.Errorf("the loopback tool was reached: %v", srv.reads)
	}
}

func TestOversizedLookupAnswersAreRefused(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"id":"1","properties":{"x":"`+strings.Repeat("a", destinations.MaxLookupBytes)+`"}}`)
	}))
	defer big.Close()
	a, _ := NewAuth(map[string]any{"access_token": "pat-1"})
	ae := authError(t, a.Authorize(context.Background(), renderedRequest(t, "group_associate_contact", big.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "over 1048576 bytes") {
		t.Fatalf("class %v, %q", ae.Class, ae)
	}
}

// With OAuth, the lookups carry the access token minted from the refresh
// token, the same one the association then carries.
func TestOAuthLookupsCarryTheMintedToken(t *testing.T) {
	ts := newTokenServer(t)
	srv := newCRM(t, "at-1")
	srv.companies["acme/eu"] = "77"
	a := oauthAuth(t, ts.URL, map[string]any{"client_id": "cid", "client_secret": "csecret", "refresh_token": "rt-1"})
	r := renderedRequest(t, "group_associate_contact", srv.URL)
	if err := a.Authorize(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if len(srv.auths) != 2 || srv.auths[0] != "Bearer at-1" || srv.auths[1] != "Bearer at-1" || r.Header.Get("Authorization") != "Bearer at-1" {
		t.Fatalf("lookups %v, request %q", srv.auths, r.Header.Get("Authorization"))
	}
}
