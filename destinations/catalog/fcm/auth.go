package fcm

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/switchyard/switchyard/destinations"
)

// FirebaseMessagingScope is the OAuth 2.0 scope of the FCM HTTP v1 API
// (https://firebase.google.com/docs/cloud-messaging/auth-server).
const FirebaseMessagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// googleTokenTimeout bounds one call to the token endpoint.
const googleTokenTimeout = 10 * time.Second

// googleTokenMargin: a cached token with less than this left is minted
// again, so no request leaves with a token that expires in flight.
const googleTokenMargin = time.Minute

func init() {
	destinations.RegisterAuth("google-service-account", NewGoogleServiceAccount)
}

// serviceAccountKey is the JSON key file of a Google service account, as the
// Firebase console (Project settings > Service accounts) and the Cloud
// console download it.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// GoogleServiceAccount authorizes requests to Google APIs with an OAuth 2.0
// access token minted from a service account key (the two-legged JWT
// bearer flow of RFC 7523, which Google documents for server-to-server
// calls: https://developers.google.com/identity/protocols/oauth2/service-account).
// It is registered as "google-service-account" and reads the key JSON from
// the destination's service_account setting. The token is cached and
// minted again a minute before it expires; one mint runs at a time.
type GoogleServiceAccount struct {
	conf   *jwt.Config
	client *http.Client
	now    func() time.Time

	mu    sync.Mutex
	token *oauth2.Token
}

// NewGoogleServiceAccount validates the key in settings["service_account"]
// (JSON text) and returns its Authorizer. Every error names what is wrong
// with the key without echoing it: the setting is a secret.
func NewGoogleServiceAccount(settings map[string]any) (destinations.Authorizer, error) {
	raw, _ := settings["service_account"].(string)
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("service_account is empty: set it to the service account key JSON")
	}
	var k serviceAccountKey
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		return nil, fmt.Errorf("service_account is not a service account key JSON (%s)", jsonErrorKind(err))
	}
	if k.Type != "" && k.Type != "service_account" {
		return nil, fmt.Errorf("service_account has type %q, want a service_account key (not a user or external account credential)", k.Type)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"client_email", k.ClientEmail}, {"private_key", k.PrivateKey}, {"token_uri", k.TokenURI}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("service_account key lacks %s", strings.Join(missing, ", "))
	}
	if _, err := parseRSAPrivateKey(k.PrivateKey); err != nil {
		return nil, fmt.Errorf("service_account private_key: %w", err)
	}
	if err := checkTokenURI(k.TokenURI); err != nil {
		return nil, fmt.Errorf("service_account token_uri: %w", err)
	}
	return &GoogleServiceAccount{
		conf: &jwt.Config{
			Email:        k.ClientEmail,
			PrivateKey:   []byte(k.PrivateKey),
			PrivateKeyID: k.PrivateKeyID,
			Scopes:       []string{FirebaseMessagingScope},
			TokenURL:     k.TokenURI,
		},
		client: &http.Client{Timeout: googleTokenTimeout},
		now:    time.Now,
	}, nil
}

// DenyPrivate makes the token endpoint (the key's token_uri, which the
// operator controls) subject to the DenyPrivate check, as deliveries are.
func (g *GoogleServiceAccount) DenyPrivate() {
	dialer := &net.Dialer{Timeout: googleTokenTimeout, Control: destinations.DenyPrivateControl}
	g.client = &http.Client{Timeout: googleTokenTimeout, Transport: &http.Transport{
		DialContext: dialer.DialContext, TLSHandshakeTimeout: googleTokenTimeout, ForceAttemptHTTP2: true,
	}}
}

// Authorize sets "Authorization: Bearer <access token>".
func (g *GoogleServiceAccount) Authorize(ctx context.Context, r *destinations.Request) error {
	tok, err := g.Token(ctx)
	if err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

// Token returns the cached access token, minting a new one when it is
// missing or within a minute of its expiry.
func (g *GoogleServiceAccount) Token(ctx context.Context) (*oauth2.Token, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.token != nil && now.Add(googleTokenMargin).Before(g.token.Expiry) {
		return g.token, nil
	}
	tok, err := g.conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, g.client)).Token()
	if err != nil {
		return nil, fmt.Errorf("minting an access token for %s at %s: %w", g.conf.Email, g.conf.TokenURL, err)
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("minting an access token for %s at %s: the response has no access_token", g.conf.Email, g.conf.TokenURL)
	}
	if tok.Expiry.IsZero() {
		// Google always sends expires_in; without it, keep the token
		// briefly rather than forever.
		tok.Expiry = now.Add(5 * time.Minute)
	}
	g.token = tok
	return tok, nil
}

// parseRSAPrivateKey reads the PEM private key of a service account key
// file: PKCS #8 as Google issues it, or PKCS #1. The JWT bearer flow signs
// with RS256, so the key must be RSA.
func parseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not a PEM block (want -----BEGIN PRIVATE KEY-----)")
	}
	if key, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, want an RSA key (RS256)", key)
		}
		return rk, nil
	}
	rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the PEM block is neither a PKCS #8 nor a PKCS #1 RSA private key")
	}
	return rk, nil
}

// checkTokenURI accepts https URLs, and http to a loopback host (a local
// token server in tests).
func checkTokenURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("%q is not an https URL", s)
}

// jsonErrorKind describes a JSON decoding error without quoting the input.
func jsonErrorKind(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s is a JSON %s", typ.Field, typ.Value)
	}
	return "unreadable JSON"
}

var _ destinations.Authorizer = (*GoogleServiceAccount)(nil)
