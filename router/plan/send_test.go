package plan

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

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
