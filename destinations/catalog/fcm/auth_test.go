package fcm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

// tokenServer is a Google-like OAuth token endpoint: it checks the JWT
// bearer assertion against the service account's public key and answers
// with a numbered access token.
type tokenServer struct {
	*httptest.Server
	minted    atomic.Int32
	expiresIn int
	status    int
	lastClaim map[string]any
	lastKid   string
}

func newTokenServer(t *testing.T, pub *rsa.PublicKey) *tokenServer {
	t.Helper()
	ts := &tokenServer{expiresIn: 3600, status: http.StatusOK}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
			return
		}
		var header map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		_ = json.Unmarshal(hb, &header)
		ts.lastKid, _ = header["kid"].(string)
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		ts.lastClaim = map[string]any{}
		_ = json.Unmarshal(cb, &ts.lastClaim)
		if ts.status != http.StatusOK {
			http.Error(w, `{"error":"invalid_grant","error_description":"Invalid grant: account not found"}`, ts.status)
			return
		}
		n := ts.minted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"ya29.token-%d","token_type":"Bearer","expires_in":%d}`, n, ts.expiresIn)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func rsaKeyPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func serviceAccountJSON(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGoogleServiceAccountMintsAndCachesTheToken(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	ts := newTokenServer(t, &key.PublicKey)
	a, err := NewGoogleServiceAccount(map[string]any{"service_account": serviceAccountJSON(t, map[string]any{
		"type": "service_account", "project_id": "demo", "private_key_id": "kid-1", "private_key": keyPEM,
		"client_email": "sender@demo.iam.gserviceaccount.com", "token_uri": ts.URL + "/token",
	})})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r := &destinations.Request{Header: http.Header{}}
		if err := a.Authorize(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer ya29.token-1" {
			t.Fatalf("Authorization = %q, want the first token, reused", got)
		}
	}
	if n := ts.minted.Load(); n != 1 {
		t.Errorf("token endpoint called %d times for 3 requests, want 1 (cached)", n)
	}
	want := map[string]any{"iss": "sender@demo.iam.gserviceaccount.com", "scope": FirebaseMessagingScope, "aud": ts.URL + "/token"}
	for k, v := range want {
		if ts.lastClaim[k] != v {
			t.Errorf("JWT claim %s = %v, want %v", k, ts.lastClaim[k], v)
		}
	}
	if ts.lastKid != "kid-1" {
		t.Errorf("JWT kid = %q, want the key's private_key_id", ts.lastKid)
	}
}

func TestGoogleServiceAccountMintsAgainNearExpiry(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	ts := newTokenServer(t, &key.PublicKey)
	a, err := NewGoogleServiceAccount(map[string]any{"service_account": serviceAccountJSON(t, map[string]any{
		"private_key": keyPEM, "client_email": "sender@demo.iam.gserviceaccount.com", "token_uri": ts.URL,
	})})
	if err != nil {
		t.Fatal(err)
	}
	g := a.(*GoogleServiceAccount)
	clock := time.Now()
	g.now = func() time.Time { return clock }
	if _, err := g.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(58 * time.Minute) // 2 minutes left: still good
	if tok, _ := g.Token(context.Background()); tok.AccessToken != "ya29.token-1" {
		t.Fatalf("token with 2 minutes left = %q, want it reused", tok.AccessToken)
	}
	clock = clock.Add(90 * time.Second) // 30 s left: inside the margin
	tok, err := g.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "ya29.token-2" {
		t.Errorf("token with 30 s left = %q, want a new one", tok.AccessToken)
	}
}

func TestGoogleServiceAccountReportsTokenEndpointErrors(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	ts := newTokenServer(t, &key.PublicKey)
	ts.status = http.StatusBadRequest
	a, err := NewGoogleServiceAccount(map[string]any{"service_account": serviceAccountJSON(t, map[string]any{
		"private_key": keyPEM, "client_email": "sender@demo.iam.gserviceaccount.com", "token_uri": ts.URL,
	})})
	if err != nil {
		t.Fatal(err)
	}
	r := &destinations.Request{Header: http.Header{}}
	err = a.Authorize(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "sender@demo.iam.gserviceaccount.com") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("Authorize error = %v, want one naming the account and the endpoint's error", err)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("a failed mint still set Authorization")
	}
}

func TestGoogleServiceAccountSignedByAnotherKeyIsRefused(t *testing.T) {
	other, _ := rsaKeyPEM(t)
	_, keyPEM := rsaKeyPEM(t)
	ts := newTokenServer(t, &other.PublicKey)
	a, err := NewGoogleServiceAccount(map[string]any{"service_account": serviceAccountJSON(t, map[string]any{
		"private_key": keyPEM, "client_email": "sender@demo.iam.gserviceaccount.com", "token_uri": ts.URL,
	})})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Authorize(context.Background(), &destinations.Request{}); err == nil || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Fatalf("Authorize error = %v, want the endpoint's signature error", err)
	}
}

func TestGoogleServiceAccountValidatesTheKeyAtConstruction(t *testing.T) {
	_, keyPEM := rsaKeyPEM(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	good := map[string]any{"type": "service_account", "private_key": keyPEM, "client_email": "a@b.iam.gserviceaccount.com",
		"token_uri": "https://oauth2.googleapis.com/token"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return serviceAccountJSON(t, m)
	}
	cases := []struct {
		name, value, want string
	}{
		{"empty", "", "service_account is empty"},
		{"not JSON", "test-fcm-service-account", "not a service account key JSON (invalid JSON at byte"},
		{"wrong field type", `{"client_email": 7}`, "field client_email is a JSON number"},
		{"user credential", with("type", "authorized_user"), `type "authorized_user"`},
		{"no client_email", with("client_email", nil), "lacks client_email"},
		{"no private_key nor token_uri", serviceAccountJSON(t, map[string]any{"client_email": "a@b"}), "lacks private_key, token_uri"},
		{"private key is not PEM", with("private_key", "MIIEvQIBADANBg"), "private_key: not a PEM block"},
		{"private key PEM is garbage", with("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "neither a PKCS #8 nor a PKCS #1"},
		{"EC key", with("private_key", ecPEM), "want an RSA key"},
		{"token_uri over http", with("token_uri", "http://oauth2.googleapis.com/token"), "not an https URL"},
		{"token_uri not a URL", with("token_uri", "oauth2 endpoint"), "not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGoogleServiceAccount(map[string]any{"service_account": tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), "test-fcm") || strings.Contains(err.Error(), "a@b.iam") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
	if _, err := NewGoogleServiceAccount(map[string]any{"service_account": with("type", nil)}); err != nil {
		t.Errorf("a key without type was refused: %v", err)
	}
}

func TestGoogleServiceAccountIsRegistered(t *testing.T) {
	f, err := destinations.AuthFor("google-service-account")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(map[string]any{}); err == nil {
		t.Error("the registered factory accepted settings without service_account")
	}
}
