// Package hubspot holds the Go quirks of the HubSpot catalog tool: its
// authorizer ("hubspot-auth": a private-app token, or OAuth 2.0 access
// tokens refreshed from a refresh token, and the record lookups that turn
// the associate_company preset's request into HubSpot's association) and
// the reading of HubSpot's batch responses ("hubspot" item errors).
package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyard/switchyard/destinations"
)

// TokenURL is HubSpot's OAuth 2.0 token endpoint
// (https://developers.hubspot.com/docs/api/oauth/tokens).
const TokenURL = "https://api.hubapi.com/oauth/v1/token" //nolint:gosec // G101: an endpoint's URL, not a credential

// tokenTimeout bounds one call to the token endpoint.
const tokenTimeout = 10 * time.Second

// tokenMargin: an access token with less than this left is refreshed, so
// no request leaves with a token that expires in flight. HubSpot access
// tokens live 30 minutes.
const tokenMargin = time.Minute

func init() {
	destinations.RegisterAuth("hubspot-auth", NewAuth)
}

// Auth authorizes HubSpot requests with "Authorization: Bearer <token>".
// With the access_token setting (a private app's token) the token is
// static. With client_id, client_secret and refresh_token (a public app
// installed with OAuth), access tokens are obtained from the refresh token
// through golang.org/x/oauth2 and reused until a minute before they expire;
// one refresh runs at a time (the token source's own lock). A request of
// the associate_company preset has its records looked up first
// (resolveAssociation).
//
// Lock order: mu only; it is never held across a token refresh or a lookup.
type Auth struct {
	static string

	mu      sync.Mutex   // guards client, source, lookups
	client  *http.Client // the token endpoint's
	lookups *http.Client // the association's record reads
	conf    *oauth2.Config
	seed    *oauth2.Token
	source  oauth2.TokenSource
}

// NewAuth reads the settings. Exactly one of access_token, or the three
// OAuth settings together, must be set.
func NewAuth(settings map[string]any) (destinations.Authorizer, error) {
	get := func(k string) string { s, _ := settings[k].(string); return strings.TrimSpace(s) }
	tok, id, secret, refresh := get("access_token"), get("client_id"), get("client_secret"), get("refresh_token")
	oauthSet := id != "" || secret != "" || refresh != ""
	switch {
	case tok != "" && oauthSet:
		return nil, errors.New("set either access_token (a private app) or client_id, client_secret and refresh_token (OAuth), not both")
	case tok != "":
		return &Auth{static: tok, lookups: destinations.NewLookupClient(false)}, nil
	case !oauthSet:
		return nil, errors.New("no credentials: set access_token (a private app's token) or client_id, client_secret and refresh_token (an OAuth app)")
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"client_id", id}, {"client_secret", secret}, {"refresh_token", refresh}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("OAuth needs client_id, client_secret and refresh_token; missing %s", strings.Join(missing, ", "))
	}
	return &Auth{
		client:  &http.Client{Timeout: tokenTimeout},
		lookups: destinations.NewLookupClient(false),
		conf: &oauth2.Config{ClientID: id, ClientSecret: secret,
			// HubSpot takes the client credentials in the form body.
			Endpoint: oauth2.Endpoint{TokenURL: TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		seed: &oauth2.Token{RefreshToken: refresh},
	}, nil
}

// DenyPrivate subjects the token endpoint and the lookups to the
// DenyPrivate check.
func (a *Auth) DenyPrivate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lookups = destinations.NewLookupClient(true)
	if a.conf == nil {
		return
	}
	dialer := &net.Dialer{Timeout: tokenTimeout, Control: destinations.DenyPrivateControl}
	a.client = &http.Client{Timeout: tokenTimeout, Transport: &http.Transport{
		DialContext: dialer.DialContext, TLSHandshakeTimeout: tokenTimeout, ForceAttemptHTTP2: true,
	}}
	a.source = nil
}

// Authorize sets the bearer token, and resolves the records of an
// associate_company request.
func (a *Auth) Authorize(ctx context.Context, r *destinations.Request) error {
	tok, err := a.Token(ctx)
	if err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	if r.Method != http.MethodPut || r.Items > 1 {
		return nil
	}
	if u, err := url.Parse(r.URL); err == nil && u.Path == placeholderPath {
		return a.resolveAssociation(ctx, r, u, tok)
	}
	return nil
}

func (a *Auth) lookupClient() *http.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookups
}

// Token returns the private app's token, or a current OAuth access token.
func (a *Auth) Token(ctx context.Context) (string, error) {
	if a.static != "" {
		return a.static, nil
	}
	a.mu.Lock()
	if a.source == nil {
		// The context only carries the HTTP client: refreshes outlive the
		// request that first needed a token.
		base := a.conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, a.client), a.seed)
		a.source = oauth2.ReuseTokenSourceWithExpiry(nil, base, tokenMargin)
	}
	src := a.source
	a.mu.Unlock()
	t, err := src.Token()
	if err != nil {
		return "", fmt.Errorf("refreshing the HubSpot access token at %s: %w", a.conf.Endpoint.TokenURL, err)
	}
	if t.AccessToken == "" {
		return "", fmt.Errorf("refreshing the HubSpot access token at %s: the answer has no access_token", a.conf.Endpoint.TokenURL)
	}
	return t.AccessToken, nil
}

var _ destinations.Authorizer = (*Auth)(nil)
