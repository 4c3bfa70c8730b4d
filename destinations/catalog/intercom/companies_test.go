package intercom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/contracts"
	"github.com/switchyard/switchyard/internal/golden"
)

// renderedRequest returns the attach_company request of a golden case, pointed
// at base: what the preset renders, so the authorizer is tested on it.
func renderedRequest(t *testing.T, name, base string) *destinations.Request {
	t.Helper()
	return golden.Request(t, name, "attach_company", "https://api.intercom.io", base)
}

func authError(t *testing.T, err error) *destinations.AuthError {
	t.Helper()
	var ae *destinations.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want a *destinations.AuthError", err, err)
	}
	return ae
}

func newSender(t *testing.T) *destinations.Sender {
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "intercom", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The group preset's company create of the same event may not have landed
// when the attach's lookup runs: Retryable with that reason; the retry (a
// fresh rendering, as the router's redelivery makes) attaches.
func TestACompanyNotYetThereIsRetriedThenAttached(t *testing.T) {
	srv := newIntercom(t)
	a, err := NewContacts(map[string]any{"access_token": "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t)
	r := renderedRequest(t, "group_attach_contact", srv.URL)
	rendered := r.URL
	ae := authError(t, authorize(t, a, r))
	if ae.Class != destinations.Retryable || !strings.Contains(ae.Error(), `company whose company_id is "acme/eu" is not there yet`) {
		t.Fatalf("class %v, reason %q", ae.Class, ae)
	}
	if r.URL != rendered || len(srv.attached) != 0 {
		t.Fatalf("a failed lookup changed the request (%s) or attached %v", r.URL, srv.attached)
	}

	up := &destinations.Request{Method: "POST", URL: srv.URL + "/companies", Items: 1, Body: []byte(`{"company_id":"acme/eu","name":"Acme EU"}`),
		Header: http.Header{"Authorization": {"Bearer tok-1"}, "Content-Type": {"application/json"}}}
	if res := s.Send(context.Background(), up); res.Class != destinations.OK {
		t.Fatalf("company create: %v", res.Err)
	}

	r = renderedRequest(t, "group_attach_contact", srv.URL)
	if err := authorize(t, a, r); err != nil {
		t.Fatalf("after the create: %v", err)
	}
	companyID := srv.companies["acme/eu"]
	if want := srv.URL + "/contacts/6651a1/companies"; r.Method != "POST" || r.URL != want {
		t.Fatalf("resolved to %s %s, want POST %s", r.Method, r.URL, want)
	}
	if err := contracts.Validate(".", &destinations.Contract{Schema: "schema-attach-company-sent.json"}, r.Body); err != nil || string(r.Body) != `{"id":"`+companyID+`"}` {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if res := s.Send(context.Background(), r); res.Class != destinations.OK {
		t.Fatalf("attach: HTTP %d %v", res.Status, res.Err)
	}
	if fmt.Sprint(srv.attached) != "[6651a1 -> "+companyID+"]" {
		t.Fatalf("attached %v", srv.attached)
	}
	// The company_id is query-escaped, the contact is found by external_id
	// first, and every lookup carries the token.
	var lookups []string
	for _, c := range srv.calls {
		if strings.HasPrefix(c, "GET /companies") || strings.HasPrefix(c, "POST /contacts/search") {
			lookups = append(lookups, c)
		}
	}
	want := []string{"GET /companies?company_id=acme%2Feu", "GET /companies?company_id=acme%2Feu", "POST /contacts/search"}
	if fmt.Sprint(lookups) != fmt.Sprint(want) {
		t.Errorf("lookups %v, want %v", lookups, want)
	}
	for _, h := range srv.auths {
		if h != "Bearer tok-1" {
			t.Errorf("a lookup carried Authorization %q", h)
		}
	}
	// A resolved request (a dead letter replayed) is sent as it is.
	srv.calls = nil
	if err := authorize(t, a, r); err != nil || len(srv.calls) != 0 {
		t.Errorf("a resolved request was looked up again: %v %v", err, srv.calls)
	}
}

func TestAContactFoundByEmailIsAttachedAndAMissingOneIsRetried(t *testing.T) {
	srv := newIntercom(t)
	srv.companies["acme/eu"] = "660001"
	a, _ := NewContacts(map[string]any{"access_token": "tok-1"})

	// Not by external_id: by the email, a lead's.
	r := renderedRequest(t, "group_attach_contact", srv.URL)
	r.Body = []byte(`{"company":{"company_id":"acme/eu"},"contact":{"external_id":"u-new","email":"lead@example.com"}}`)
	if err := authorize(t, a, r); err != nil || r.URL != srv.URL+"/contacts/6651b2/companies" {
		t.Fatalf("%v %s", err, r.URL)
	}

	r = renderedRequest(t, "group_attach_contact", srv.URL)
	r.Body = []byte(`{"company":{"company_id":"acme/eu"},"contact":{"external_id":"u-new","email":"new@example.com"}}`)
	ae := authError(t, authorize(t, a, r))
	if ae.Class != destinations.Retryable || !strings.Contains(ae.Error(), "no Intercom contact has this group call's userId") ||
		!strings.Contains(ae.Error(), "the identify preset creates it") {
		t.Fatalf("class %v, reason %q", ae.Class, ae)
	}
	if strings.Contains(ae.Error(), "new@example.com") || strings.Contains(ae.Error(), "tok-1") {
		t.Errorf("the reason carries the email or the token: %q", ae)
	}
}

func TestAttachLookupFailuresAreClassifiedLikeSends(t *testing.T) {
	srv := newIntercom(t)
	srv.companies["acme/eu"] = "660001"
	a, _ := NewContacts(map[string]any{"access_token": "tok-1"})

	srv.throttle = 1
	ae := authError(t, authorize(t, a, renderedRequest(t, "group_attach_contact", srv.URL)))
	if ae.Class != destinations.Retryable || ae.RetryAfter != 3*time.Second || !strings.Contains(ae.Error(), "HTTP 429") {
		t.Errorf("429: class %v, Retry-After %v, %q", ae.Class, ae.RetryAfter, ae)
	}

	wrong, _ := NewContacts(map[string]any{"access_token": "tok-revoked"})
	ae = authError(t, authorize(t, wrong, renderedRequest(t, "group_attach_contact", srv.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "HTTP 401") || strings.Contains(ae.Error(), "tok-revoked") {
		t.Errorf("401: class %v, %q", ae.Class, ae)
	}

	srv.down = true
	ae = authError(t, authorize(t, a, renderedRequest(t, "group_attach_contact", srv.URL)))
	if ae.Class != destinations.Retryable || !strings.Contains(ae.Error(), "HTTP 503") {
		t.Errorf("503: class %v, %q", ae.Class, ae)
	}
}

func TestAttachLookupsHonourDenyPrivate(t *testing.T) {
	srv := newIntercom(t)
	a, _ := NewContacts(map[string]any{"access_token": "tok-1"})
	a.(destinations.PrivateDenier).DenyPrivate()
	ae := authError(t, authorize(t, a, renderedRequest(t, "group_attach_contact", srv.URL)))
	if ae.Class != destinations.Permanent || !strings.Contains(ae.Error(), "deny_private_destinations") || len(srv.calls) != 0 {
		t.Fatalf("class %v, %q, calls %v", ae.Class, ae, srv.calls)
	}
}
