package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchyard/switchyard/destinations"
)

func p8(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func newAuth(t *testing.T, key string) *TokenAuth {
	t.Helper()
	a, err := NewTokenAuth(map[string]any{"key": key, "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"})
	if err != nil {
		t.Fatal(err)
	}
	return a.(*TokenAuth)
}

// verify parses a provider token as APNs does: ES256 with the key's public
// half, kid in the header, iss and iat in the claims.
func verify(t *testing.T, pub *ecdsa.PublicKey, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}))
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify: %v", err)
	}
	if parsed.Header["kid"] != "ABC123DEFG" {
		t.Errorf("kid = %v", parsed.Header["kid"])
	}
	if claims["iss"] != "DEF123GHIJ" {
		t.Errorf("iss = %v", claims["iss"])
	}
	return claims
}

func TestProviderTokenIsAnES256JWTNamingKeyAndTeam(t *testing.T) {
	k, pemText := p8(t)
	a := newAuth(t, pemText)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a.now = func() time.Time { return now }
	tok, err := a.Token()
	if err != nil {
		t.Fatal(err)
	}
	claims := verify(t, &k.PublicKey, tok)
	if iat, _ := claims["iat"].(float64); int64(iat) != now.Unix() {
		t.Errorf("iat = %v, want %d", claims["iat"], now.Unix())
	}
	// Pasted into an env file with literal \n: the same key.
	b := newAuth(t, strings.ReplaceAll(strings.TrimSpace(pemText), "\n", `\n`))
	tok2, err := b.Token()
	if err != nil {
		t.Fatal(err)
	}
	verify(t, &k.PublicKey, tok2)
}

// Apple: "no more than once every 20 minutes and no less than once every
// 60 minutes". The token is reused for 50 minutes, then signed again.
func TestProviderTokenIsReusedThenRefreshedBeforeAnHour(t *testing.T) {
	_, pemText := p8(t)
	a := newAuth(t, pemText)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	a.now = func() time.Time { return now }
	first, _ := a.Token()
	issued := map[string]time.Time{first: start}
	for m := 1; m <= 180; m++ {
		now = start.Add(time.Duration(m) * time.Minute)
		tok, err := a.Token()
		if err != nil {
			t.Fatal(err)
		}
		if _, seen := issued[tok]; !seen {
			issued[tok] = now
		}
		age := now.Sub(issued[tok])
		if age >= time.Hour {
			t.Fatalf("at +%dm a token %s old was used; Apple refuses tokens older than an hour", m, age)
		}
	}
	var times []time.Time
	for _, at := range issued {
		times = append(times, at)
	}
	for i := range times {
		for j := range times {
			if i != j && times[i].Sub(times[j]) > 0 && times[i].Sub(times[j]) < 20*time.Minute {
				t.Fatalf("tokens issued %s apart; Apple rate-limits refreshes under 20 minutes", times[i].Sub(times[j]))
			}
		}
	}
	if len(issued) != 4 { // +0, +50, +100, +150 minutes
		t.Errorf("%d tokens in 3 hours, want 4 (one every 50 minutes)", len(issued))
	}
}

func TestBadKeySettingsAreRefusedWithoutEchoingTheKey(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	_, good := p8(t)
	for name, c := range map[string]struct {
		settings map[string]any
		want     []string
	}{
		"empty key":  {map[string]any{"key": "", "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"}, []string{"key: empty"}},
		"not PEM":    {map[string]any{"key": "secret-ish", "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"}, []string{"not a PEM block"}},
		"RSA key":    {map[string]any{"key": rsaPEM, "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"}, []string{"P-256"}},
		"bad ids":    {map[string]any{"key": good, "key_id": "abc", "team_id": ""}, []string{`key_id "abc"`, `team_id ""`}},
		"everything": {map[string]any{}, []string{"key: empty", "key_id", "team_id"}},
	} {
		_, err := NewTokenAuth(c.settings)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
		if k, _ := c.settings["key"].(string); len(k) > 20 && strings.Contains(err.Error(), k[30:50]) {
			t.Errorf("%s: the error echoes the key", name)
		}
	}
}

// apnsServer behaves like APNs: HTTP/2 only, a provider token checked on
// every request, and per-device answers.
type apnsServer struct {
	*httptest.Server
	mu     sync.Mutex
	protos []string
	seen   []http.Header
}

func newAPNsServer(t *testing.T, pub *ecdsa.PublicKey) *apnsServer {
	s := &apnsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.protos = append(s.protos, r.Proto)
		s.seen = append(s.seen, r.Header.Clone())
		s.mu.Unlock()
		w.Header().Set("apns-id", r.Header.Get("apns-id"))
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "bearer ")
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"ES256"})); err != nil {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"reason":"InvalidProviderToken"}`)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/3/device/") {
		case "dead":
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, `{"reason":"Unregistered","timestamp":1709287200000}`)
		case "malformed":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"reason":"BadDeviceToken"}`)
		case "clock-says-expired":
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"reason":"ExpiredProviderToken"}`)
		case "busy":
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"reason":"TooManyRequests"}`)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	s.Server.EnableHTTP2 = true
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Through the real Sender (whose transport negotiates HTTP/2 over TLS),
// with the apns item-error parser, and the authorizer: every request is
// HTTP/2 with a provider token, each device answers on its own, a dead or
// malformed token is permanent with Apple's reason in the error (the dead
// letter's reason) and the response, a busy device is retried, and so is a
// push whose provider token Apple calls expired.
func TestPushesGoOverHTTP2AndEachDeviceEndsOnItsOwn(t *testing.T) {
	k, pemText := p8(t)
	srv := newAPNsServer(t, &k.PublicKey)
	auth := newAuth(t, pemText)
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "apns", Attempts: 1, InsecureSkipVerify: true, ItemErrors: ItemErrors})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]struct {
		class  destinations.Class
		status int
		reason string
	}{
		"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad": {destinations.OK, 200, ""},
		"dead":               {destinations.Permanent, 410, "Unregistered"},
		"malformed":          {destinations.Permanent, 400, "BadDeviceToken"},
		"busy":               {destinations.Retryable, 429, "TooManyRequests"},
		"clock-says-expired": {destinations.Retryable, 403, "ExpiredProviderToken"},
	}
	// What the dead letter's reason says: the status and Apple's reason.
	wantErr := map[string]string{
		"dead":               "HTTP 410 Gone: Unregistered: the device token is no longer active",
		"malformed":          "HTTP 400 Bad Request: BadDeviceToken: the device token is malformed",
		"clock-says-expired": "HTTP 403 Forbidden: ExpiredProviderToken",
	}
	for token, w := range want {
		r := &destinations.Request{Method: "POST", URL: srv.URL + "/3/device/" + token, Items: 1, Action: "send_push", ValidJSON: true,
			Header: http.Header{"Apns-Push-Type": {"alert"}, "Apns-Topic": {"com.example.shop"}, "Apns-Collapse-Id": {"msg-1"}, "Apns-Priority": {"10"}},
			Body:   []byte(`{"aps":{"alert":{"title":"Hi"}}}`)}
		if err := auth.Authorize(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		res := s.Send(context.Background(), r)
		if res.Class != w.class || res.Status != w.status {
			t.Errorf("%s: %s HTTP %d (%v), want %s HTTP %d", token, res.Class, res.Status, res.Err, w.class, w.status)
		}
		if w.reason != "" && !strings.Contains(string(res.Body), w.reason) {
			t.Errorf("%s: response %q does not keep Apple's reason %s", token, res.Body, w.reason)
		}
		if e := wantErr[token]; e != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), e)) {
			t.Errorf("%s: error %v, want it to say %q", token, res.Err, e)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.protos) != len(want) {
		t.Fatalf("%d requests reached APNs, want %d", len(srv.protos), len(want))
	}
	for i, p := range srv.protos {
		if p != "HTTP/2.0" {
			t.Errorf("request %d used %s, want HTTP/2.0 (APNs accepts nothing else)", i, p)
		}
		if h := srv.seen[i]; h.Get("Apns-Topic") != "com.example.shop" || h.Get("Apns-Push-Type") != "alert" || !strings.HasPrefix(h.Get("Authorization"), "bearer ") {
			t.Errorf("request %d headers %v", i, h)
		}
	}
}

// A push Apple refuses with 403 ExpiredProviderToken is retried with a new
// token: Answer drops the refused one, so the next Authorize signs afresh,
// unless the refused token is younger than Apple's 20-minute refresh limit
// (then the host's clock is behind and a new token would be refused too).
// A token refused for another reason, or a token already replaced, stays.
func TestExpiredProviderTokenIsSignedAgainForTheRetry(t *testing.T) {
	_, pemText := p8(t)
	a := newAuth(t, pemText)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	authorize := func() *destinations.Request {
		r := &destinations.Request{Method: "POST", URL: "https://api.push.apple.com/3/device/x"}
		if err := a.Authorize(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	expired := destinations.Result{Class: destinations.Retryable, Status: 403, Body: []byte(`{"reason":"ExpiredProviderToken"}`)}
	first := authorize()
	now = now.Add(5 * time.Minute)
	a.Answer(first, expired)
	if got := authorize(); got.Header.Get("Authorization") != first.Header.Get("Authorization") {
		t.Fatal("a 5-minute-old token was signed again: Apple would answer 429 TooManyProviderTokenUpdates")
	}
	now = now.Add(20 * time.Minute)
	a.Answer(first, destinations.Result{Class: destinations.Permanent, Status: 403, Body: []byte(`{"reason":"InvalidProviderToken"}`)})
	if got := authorize(); got.Header.Get("Authorization") != first.Header.Get("Authorization") {
		t.Fatal("a token refused as invalid (a configuration error) was signed again")
	}
	a.Answer(first, expired)
	second := authorize()
	if second.Header.Get("Authorization") == first.Header.Get("Authorization") {
		t.Fatal("the token Apple refused as expired was reused for the retry")
	}
	// A late answer about the first token does not drop its successor.
	now = now.Add(30 * time.Minute)
	a.Answer(first, expired)
	if got := authorize(); got.Header.Get("Authorization") != second.Header.Get("Authorization") {
		t.Fatal("an answer about a replaced token dropped the current one")
	}
}
