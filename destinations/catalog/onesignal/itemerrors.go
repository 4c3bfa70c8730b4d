package onesignal

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("onesignal", ItemErrors)
}

// ItemErrors reads the per-event errors of OneSignal's Create
// custom events (POST /apps/{app_id}/custom_events), registered as
// "onesignal".
//
// OneSignal accepts the request and reports events it could not process in
// the body of a 202 (https://documentation.onesignal.com/reference/create-custom-events):
//
//	{"errors": [{"event_user_id": "abc123", "event_id": "567491ee-...",
//	  "error": {"code": "not found", "title": "failed to find a onesignal_id for user_id abc123"}}]}
//
// The report names events by user and event id, not by position, so it can
// be attributed only when the request carried one event (the catalog sends
// custom events one per request for that reason) or when every event of the
// request failed. A report that fails some events of a larger batch without
// saying which fails every event as retryable: OneSignal drops the re-sent
// ones it had accepted, by idempotency_key, for 4 hours.
//
// "not found" (no user with that external_id yet) is retryable: the user is
// often being created by an identify sent moments before. Any other code is
// permanent. 2xx bodies without an errors list (Create user, Update user)
// report nothing.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status < 200 || status > 299 {
		return nil
	}
	var report struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &report); err != nil || len(report.Errors) == 0 {
		return nil
	}
	class, reasons := destinations.Permanent, make([]string, 0, len(report.Errors))
	for _, raw := range report.Errors {
		code, msg := oneSignalEventError(raw)
		if strings.EqualFold(code, "not found") {
			class = destinations.Retryable
		}
		reasons = append(reasons, msg)
	}
	items = max(items, 1)
	msg := "OneSignal rejected the event: " + strings.Join(reasons, "; ")
	switch {
	case items == 1:
	case len(report.Errors) >= items:
		msg = fmt.Sprintf("OneSignal rejected every event of the batch: %s", strings.Join(reasons, "; "))
	default:
		class = destinations.Retryable
		msg = fmt.Sprintf("OneSignal rejected %d of %d events of the batch without saying which (%s); the batch is retried and OneSignal drops the events it had accepted by idempotency_key",
			len(report.Errors), items, strings.Join(reasons, "; "))
	}
	return destinations.AllItemsFail(items, class, status, msg)
}

// oneSignalEventError reads one entry of the errors list: an object with an
// error {code, title}, or (GenericError style) a bare string.
func oneSignalEventError(raw json.RawMessage) (code, msg string) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return "", s
	}
	var e struct {
		UserID string `json:"event_user_id"`
		Error  struct {
			Code  string `json:"code"`
			Title string `json:"title"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return "", string(raw)
	}
	msg = e.Error.Title
	if msg == "" {
		msg = string(raw)
	}
	if e.Error.Code != "" {
		msg = e.Error.Code + ": " + msg
	}
	return e.Error.Code, msg
}
