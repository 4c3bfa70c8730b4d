package plan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

// answerSpy is an Authorizer that reads the answers to what it authorized.
type answerSpy struct {
	mu      sync.Mutex
	answers []int
}

func (a *answerSpy) Authorize(_ context.Context, r *destinations.Request) error {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "bearer t1")
	return nil
}

func (a *answerSpy) Answer(r *destinations.Request, res destinations.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Header.Get("Authorization") == "bearer t1" {
		a.answers = append(a.answers, res.Status)
	}
}

// Send hands an AnswerReader the tool's answer to each request it
// authorized, so that a credential refused as expired can be minted again
// for the retry (APNs' 403 ExpiredProviderToken).
func TestSendGivesTheAuthorizerTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer t1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"reason":"ExpiredProviderToken"}`))
	}))
	defer srv.Close()
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	spy := &answerSpy{}
	p := &Plan{auth: spy}
	res := p.Send(context.Background(), s, &destinations.Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`), Items: 1})
	if res.Status != http.StatusForbidden {
		t.Fatalf("status %d (%v), want the tool's 403", res.Status, res.Err)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.answers) != 1 || spy.answers[0] != http.StatusForbidden {
		t.Errorf("the authorizer read %v, want the one 403 answer", spy.answers)
	}
}

// lookupRefuser is an Authorizer whose lookup decides the outcome.
type lookupRefuser struct{ err error }

func (a lookupRefuser) Authorize(context.Context, *destinations.Request) error { return a.err }

// An Authorizer's classified error (destinations.AuthError) decides the
// send's class and carries the tool's Retry-After; nothing is sent. Any
// other Authorizer error stays Retryable.
func TestSendTakesTheClassOfAnAuthorizersLookup(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer srv.Close()
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		err   error
		class destinations.Class
		after time.Duration
	}{
		{&destinations.AuthError{Class: destinations.Permanent, Err: errors.New("reading the contact: HTTP 403")}, destinations.Permanent, 0},
		{fmt.Errorf("wrapped: %w", &destinations.AuthError{Class: destinations.Retryable, RetryAfter: 2 * time.Second, Err: errors.New("HTTP 429")}), destinations.Retryable, 2 * time.Second},
		{errors.New("token endpoint down"), destinations.Retryable, 0},
	} {
		p := &Plan{auth: lookupRefuser{c.err}}
		res := p.Send(context.Background(), s, &destinations.Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`), Items: 1})
		if res.Class != c.class || res.RetryAfter != c.after || res.Err == nil || !strings.Contains(res.Err.Error(), c.err.Error()) {
			t.Errorf("%v: class %v, Retry-After %v, err %v", c.err, res.Class, res.RetryAfter, res.Err)
		}
	}
	if hits != 0 {
		t.Errorf("%d requests were sent although authorizing failed", hits)
	}
}
