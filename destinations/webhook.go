package destinations

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com/) header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// webhookSecretPrefix marks a Standard Webhooks symmetric secret.
const webhookSecretPrefix = "whsec_"

// webhookKey decodes a Standard Webhooks secret: "whsec_" followed by the
// base64 key. The prefix is optional, as in the reference libraries.
func webhookKey(secret string) ([]byte, error) {
	enc := strings.TrimPrefix(strings.TrimSpace(secret), webhookSecretPrefix)
	if enc == "" {
		return nil, errors.New("webhook secret is empty")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// Accept unpadded base64 too; some dashboards strip the padding.
		var err2 error
		if key, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "=")); err2 != nil {
			return nil, errors.New("webhook secret is not whsec_ followed by base64")
		}
	}
	if len(key) == 0 {
		return nil, errors.New("webhook secret is empty")
	}
	return key, nil
}

// SignWebhook returns the Standard Webhooks signature header value for one
// message: "v1," followed by the base64 HMAC-SHA256, keyed with the decoded
// secret, of msgID + "." + ts in Unix seconds + "." + body. The body must be
// the exact bytes sent.
func SignWebhook(secret, msgID string, ts time.Time, body []byte) (string, error) {
	if msgID == "" {
		return "", errors.New("webhook message id is empty")
	}
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	var num [20]byte
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(num[:0], ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	sum := mac.Sum(nil)
	out := make([]byte, 3+base64.StdEncoding.EncodedLen(len(sum)))
	copy(out, "v1,")
	base64.StdEncoding.Encode(out[3:], sum)
	return string(out), nil
}

// WebhookHeaders returns the three Standard Webhooks headers for one message:
// webhook-id (msgID, stable across retries so receivers can dedupe),
// webhook-timestamp (Unix seconds) and webhook-signature.
func WebhookHeaders(secret, msgID string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := SignWebhook(secret, msgID, ts, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3)
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, sig)
	return h, nil
}
