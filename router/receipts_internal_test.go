package router

import "testing"

// A recipient is stored and shown truncated: enough to recognise it, not
// to send to it.
func TestRecipientsAreTruncated(t *testing.T) {
	for in, want := range map[string]string{
		"ExponentPushToken[AbCdEfGhIjKlMnOpQrStUv]": "ExponentPushToken[AbCd…StUv]",
		"ExpoPushToken[short]":                      "ExpoPushToken[…]",
		"fcm-raw-token-0123456789":                  "fcm-…6789",
		"tiny":                                      "…",
		"":                                          "",
	} {
		if got := maskRecipient(in); got != want {
			t.Errorf("maskRecipient(%q) = %q, want %q", in, got, want)
		}
	}
}

// Tool codes become bounded labels.
func TestReceiptCodesBecomeLabels(t *testing.T) {
	for in, want := range map[string]string{
		"DeviceNotRegistered": "device_not_registered",
		"MismatchSenderId":    "mismatch_sender_id",
		"MessageTooBig":       "message_too_big",
		"InvalidCredentials":  "invalid_credentials",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
