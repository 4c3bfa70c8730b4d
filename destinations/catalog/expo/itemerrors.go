// Package expo holds the Go quirks of the Expo push catalog tool: the
// reading of push tickets (per-message errors of /push/send, registered as
// the "expo" item-error parser) and the checking of push receipts
// (/push/getReceipts), which says whether Apple or Google accepted each
// message.
package expo

import (
	"encoding/json"
	"fmt"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("expo", ItemErrors)
}

// Error codes of push tickets and receipts
// (https://docs.expo.dev/push-notifications/sending-notifications/#individual-errors).
const (
	// DeviceNotRegistered: the token is dead (the app was uninstalled, or
	// the token expired); Expo asks senders to stop sending to it.
	DeviceNotRegistered = "DeviceNotRegistered"
	// MessageTooBig: the message is over 4,096 bytes.
	MessageTooBig = "MessageTooBig"
	// MessageRateExceeded: too many messages to this device; back off.
	MessageRateExceeded = "MessageRateExceeded"
	// MismatchSenderId: the FCM credentials do not match the token's app.
	MismatchSenderId = "MismatchSenderId"
	// InvalidCredentials: the project's push credentials are invalid.
	InvalidCredentials = "InvalidCredentials"
)

// classOf is what an Expo error code means for the message: only a rate
// limit passes with time; the others repeat on every retry until a person
// fixes the token, the message or the credentials.
func classOf(code string) destinations.Class {
	if code == MessageRateExceeded {
		return destinations.Retryable
	}
	return destinations.Permanent
}

// advice is what the operator should do about an error code.
func advice(code string) string {
	switch code {
	case DeviceNotRegistered:
		return "the push token is dead (app uninstalled or token expired): remove it and stop sending to it"
	case MessageTooBig:
		return "the message is over Expo's 4,096-byte limit"
	case MessageRateExceeded:
		return "too many messages to this device; retried later"
	case MismatchSenderId:
		return "the project's FCM credentials do not match the app the token belongs to"
	case InvalidCredentials:
		return "the project's push credentials (APNs key or FCM server credentials) are invalid or revoked"
	}
	return ""
}

// ticket is one entry of /push/send's data array, or one receipt.
type ticket struct {
	Status  string `json:"status"`
	ID      string `json:"id"`
	Message string `json:"message"`
	Details struct {
		Error string `json:"error"`
	} `json:"details"`
}

// ItemErrors reads the push tickets Expo returns for a batch, registered
// as "expo" (https://docs.expo.dev/push-notifications/sending-notifications/#push-tickets).
//
// A 200 answers each message of the request array with a ticket at the same
// position: {"status": "ok", "id": ...} or {"status": "error", "message":
// ..., "details": {"error": "DeviceNotRegistered"}}. Errored messages fail
// alone, Retryable for MessageRateExceeded and Permanent otherwise, each
// with Expo's code, its message and what to do. Every DeviceNotRegistered
// message also counts the dead tokens of its batch, so an operator reading
// the dead letters sees how many tokens to remove.
//
// An error for the whole request is a 4xx or 5xx with {"errors": [...]},
// classified by its status before this parser runs, so other statuses yield
// nil. A 200 whose body is not this JSON, or with fewer tickets than
// messages, is Expo's statement that the request was accepted: the
// messages without a ticket are taken as sent.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status < 200 || status > 299 {
		return nil
	}
	var resp struct {
		Data []ticket `json:"data"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return nil
	}
	dead := 0
	for i, t := range resp.Data {
		if i < items && t.Status == "error" && t.Details.Error == DeviceNotRegistered {
			dead++
		}
	}
	var out []destinations.ItemError
	for i, t := range resp.Data {
		if i >= items || t.Status != "error" {
			continue
		}
		code := t.Details.Error
		msg := describe(code, t.Message)
		if code == DeviceNotRegistered {
			msg = fmt.Sprintf("%s (dead tokens in this batch: %d)", msg, dead)
		}
		out = append(out, destinations.ItemError{Index: i, Class: classOf(code), Status: status, Message: msg})
	}
	return out
}

// describe writes an Expo error as "Code: Expo's message; advice".
func describe(code, message string) string {
	s := code
	if s == "" {
		s = "push ticket error"
	}
	if message != "" {
		s += ": " + message
	}
	if a := advice(code); a != "" {
		s += "; " + a
	}
	return s
}
