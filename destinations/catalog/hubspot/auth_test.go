package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// tokenServer is HubSpot's token endpoint: a refresh_token grant with the
// client credentials in the form, answered with a numbered access token.
type tokenServer struct {
	*httptest.Server
	minted    atomic.Int32
	expiresIn int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expiresIn: 1800}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		if f.Get("grant_type") != "refresh_token" || f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" || f.Get("refresh_token") != "rt-1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}`)
			return
		}
		n := ts.minted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"bearer","refresh_token":"rt-1","access_token":"at-%d","expires_in":%d}`, n, ts.expiresIn)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func oauthAuth(t *testing.T, tokenURL string, settings map[string]any) *Auth {
	t.Helper()
	a, err := NewAuth(settings)
	if err != nil {
		t.Fatal(err)
	}
	au := a.(*Auth)
	au.conf.Endpoint.TokenURL = tokenURL
	return au
}

func TestOAuthAccessTokensAreRefreshedFromTheRefreshTokenAndReused(t *testing.T) {
	ts := newTokenServer(t)
	a := oauthAuth(t, ts.URL, map[string]any{"client_id": "cid", "client_secret": "csecret", "refresh_token": "rt-1"})
	for i := 0; i < 5; i++ {
		r := &destinations.Request{URL: "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"}
		if err := a.Authorize(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer at-1" {
			t.Fatalf("Authorization %q, want the first access token reused", got)
		}
	}
	if ts.minted.Load() != 1 {
		t.Fatalf("%d tokens minted for 5 requests, want 1", ts.minted.Load())
	}
}

func TestAnAccessTokenAboutToExpireIsRefreshedFirst(t *testing.T) {
	ts := newTokenServer(t)
	ts.expiresIn = 30 // under the one-minute margin: never reused
	a := oauthAuth(t, ts.URL, map[string]any{"client_id": "cid", "client_secret": "csecret", "refresh_token": "rt-1"})
	for want := 1; want <= 3; want++ {
		tok, err := a.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tok != fmt.Sprintf("at-%d", want) {
			t.Fatalf("token %s, want at-%d: a token with under a minute left was reused", tok, want)
		}
	}
}

func TestRefreshFailuresAndBadSettingsSayWhat(t *testing.T) {
	ts := newTokenServer(t)
	a := oauthAuth(t, ts.URL, map[string]any{"client_id": "cid", "client_secret": "csecret", "refresh_token": "revoked"})
	if _, err := a.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "refreshing the HubSpot access token") || !strings.Contains(err.Error(), "BAD_REFRESH_TOKEN") {
		t.Fatalf("error %v", err)
	}
	for name, c := range map[string]struct {
		s    map[string]any
		want string
	}{
		"nothing":       {map[string]any{}, "no credentials"},
		"both":          {map[string]any{"access_token": "pat", "refresh_token": "rt"}, "not both"},
		"partial OAuth": {map[string]any{"client_id": "cid"}, "missing client_secret, refresh_token"},
	} {
		if _, err := NewAuth(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	p, err := NewAuth(map[string]any{"access_token": "pat-na1-123"})
	if err != nil {
		t.Fatal(err)
	}
	r := &destinations.Request{}
	if err := p.Authorize(context.Background(), r); err != nil || r.Header.Get("Authorization") != "Bearer pat-na1-123" {
		t.Fatalf("private app token: %v %v", err, r.Header)
	}
}
