// Package apns holds the Go quirk of the Apple Push Notification service
// catalog tool: token-based authentication, an ES256 JSON Web Token signed
// with the team's .p8 key, registered as the "apple-token" authorizer.
package apns

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchyard/switchyard/destinations"
)

// TokenLifetime is how long a provider token is reused before a new one is
// signed. Apple refuses tokens older than an hour (403
// ExpiredProviderToken) and answers 429 TooManyProviderTokenUpdates to a
// provider that refreshes more often than every 20 minutes: "Refresh your
// token no more than once every 20 minutes and no less than once every 60
// minutes" (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns).
// 50 minutes stays clear of both, with room for clock skew.
const TokenLifetime = 50 * time.Minute

func init() {
	destinations.RegisterAuth("apple-token", NewTokenAuth)
}

// appleID is the form of a key id and a team id: 10 letters or digits.
var appleID = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// TokenAuth authorizes APNs requests with a provider authentication token:
// a JWT whose header names the key (kid) and whose claims name the team
// (iss) and the time it was issued (iat), signed ES256 with the .p8 key
// Apple issued. One token is shared by all requests and signed again once
// it is TokenLifetime old; signing happens under the lock, without I/O.
type TokenAuth struct {
	key    *ecdsa.PrivateKey
	keyID  string
	teamID string
	now    func() time.Time

	mu     sync.Mutex
	token  string
	issued time.Time
}

// NewTokenAuth reads the settings key (the .p8 file's text), key_id and
// team_id. Errors say what is wrong without echoing the key.
func NewTokenAuth(settings map[string]any) (destinations.Authorizer, error) {
	raw, _ := settings["key"].(string)
	keyID, _ := settings["key_id"].(string)
	teamID, _ := settings["team_id"].(string)
	var problems []string
	key, err := parseP8(raw)
	if err != nil {
		problems = append(problems, "key: "+err.Error())
	}
	if !appleID.MatchString(strings.TrimSpace(keyID)) {
		problems = append(problems, fmt.Sprintf("key_id %q is not a 10-character Apple key id (Certificates, Identifiers & Profiles > Keys)", keyID))
	}
	if !appleID.MatchString(strings.TrimSpace(teamID)) {
		problems = append(problems, fmt.Sprintf("team_id %q is not a 10-character Apple team id (Membership details)", teamID))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return &TokenAuth{key: key, keyID: strings.TrimSpace(keyID), teamID: strings.TrimSpace(teamID), now: time.Now}, nil
}

// parseP8 reads an APNs auth key: a PEM "PRIVATE KEY" block holding a
// PKCS #8 P-256 key. Keys pasted into an env file with literal \n for the
// line breaks are accepted too.
func parseP8(s string) (*ecdsa.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty: set it to the text of the AuthKey_XXXXXXXXXX.p8 file")
	}
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not a PEM block (want the .p8 file, -----BEGIN PRIVATE KEY-----)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the PEM block is not a PKCS #8 private key")
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, want the P-256 elliptic-curve key of an APNs auth key (ES256)", k)
	}
	return ek, nil
}

// Authorize sets "authorization: bearer <provider token>".
func (a *TokenAuth) Authorize(_ context.Context, r *destinations.Request) error {
	tok, err := a.Token()
	if err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "bearer "+tok)
	return nil
}

// Token returns the current provider token, signing a new one when there
// is none or it is TokenLifetime old. Age is wall-clock time, as Apple
// judges iat: the monotonic clock stops while a host is suspended, and a
// token minted before a suspension would look fresh here and expired there.
func (a *TokenAuth) Token() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().Round(0)
	if a.token != "" && now.Sub(a.issued) < TokenLifetime && !now.Before(a.issued) {
		return a.token, nil
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": a.teamID, "iat": now.Unix()})
	t.Header["kid"] = a.keyID
	s, err := t.SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("signing the APNs provider token for key %s: %w", a.keyID, err)
	}
	a.token, a.issued = s, now
	return s, nil
}

// MinRefresh is the shortest time between two tokens Apple accepts: a
// provider that signs new tokens more often is answered 429
// TooManyProviderTokenUpdates.
const MinRefresh = 20 * time.Minute

// Answer drops the token Apple refused as expired (403
// ExpiredProviderToken), so that the retry of the push is signed afresh,
// unless the token is younger than MinRefresh: then the host's clock is
// behind Apple's, a new token would be refused too, and signing it would
// only add 429 TooManyProviderTokenUpdates.
func (a *TokenAuth) Answer(r *destinations.Request, res destinations.Result) {
	if res.Status != http.StatusForbidden || !bytes.Contains(res.Body, []byte(ExpiredProviderToken)) || r == nil {
		return
	}
	sent := strings.TrimPrefix(r.Header.Get("Authorization"), "bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	if sent == a.token && a.now().Round(0).Sub(a.issued) >= MinRefresh {
		a.token = ""
	}
}

var (
	_ destinations.Authorizer   = (*TokenAuth)(nil)
	_ destinations.AnswerReader = (*TokenAuth)(nil)
)
