package destinations

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vector published with the Standard Webhooks reference libraries.
func TestSignWebhookVector(t *testing.T) {
	sig, err := SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("got %s, want %s", sig, want)
	}
	// The prefix is optional.
	bare, _ := SignWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if bare != sig {
		t.Fatalf("without prefix: %s", bare)
	}
}

// verify is an independent receiver-side check, written from the spec.
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || id == "" {
		return fmt.Errorf("bad headers %v", h)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, ok := strings.Cut(s, ",")
		if ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no matching signature")
}

func TestWebhookHeadersRoundTrip(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	body := []byte(`[{"type":"track","event":"Order Completed"}]`)
	ts := time.Unix(1700000000, 0)
	h, err := WebhookHeaders(secret, "msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("webhook-id") != "msg_1" || h.Get("webhook-timestamp") != "1700000000" {
		t.Fatalf("headers %v", h)
	}
	if err := verify(secret, h, body); err != nil {
		t.Fatal(err)
	}
	if err := verify(secret, h, append(body, ' ')); err == nil {
		t.Fatal("a changed body verified")
	}
}

func TestSignWebhookErrors(t *testing.T) {
	for _, secret := range []string{"", "whsec_", "whsec_!!!not base64"} {
		if _, err := SignWebhook(secret, "msg", time.Now(), nil); err == nil {
			t.Errorf("secret %q accepted", secret)
		}
	}
	if _, err := SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", time.Now(), nil); err == nil {
		t.Error("empty message id accepted")
	}
}
