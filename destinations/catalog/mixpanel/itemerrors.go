package mixpanel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("mixpanel", ItemErrors)
}

// ItemErrors reads Mixpanel's per-record reports, registered as
// "mixpanel".
//
// /import with strict=1 (https://docs.mixpanel.com/reference/import-events)
// answers 200 when every event was imported, and 400 when some failed
// validation. The valid events of a 400 are imported all the same; the
// failed ones are listed by position:
//
//	{"code": 400, "num_records_imported": 999, "status": "Bad Request",
//	 "failed_records": [{"index": 0, "insert_id": "13c0...", "field": "properties.time",
//	                     "message": "'properties.time' is invalid: must be specified as seconds since epoch"}]}
//
// Each listed record is a permanent failure with Mixpanel's message; the
// records not listed were delivered, so they get no entry. A 400 without
// failed_records (bad credentials, a body that is not JSON) yields nil: the
// whole request's classification stands. The Sender consults item errors on
// 2xx responses only (sender.go), so until it also does on a 4xx whose
// parser names items, such a 400 dead-letters the whole batch; replaying it
// is harmless, as $insert_id deduplicates what was imported.
//
// /engage and /groups (https://docs.mixpanel.com/reference/profile-set)
// answer 200 whatever the records hold: "1" or {"status": 1} when at least
// one record was valid, "0" or {"status": 0, "error": "..."} when none was.
// A 0 fails every record of the batch, permanently, with Mixpanel's error.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	body = bytes.TrimSpace(body)
	switch {
	case status >= 200 && status < 300:
		msg, failed := mixpanelRejectedAll(body)
		if !failed {
			return nil
		}
		return destinations.AllItemsFail(items, destinations.Permanent, status, msg)
	case status == http.StatusBadRequest:
		var report struct {
			Failed []struct {
				Index    *int   `json:"index"`
				InsertID string `json:"insert_id"`
				Field    string `json:"field"`
				Message  string `json:"message"`
			} `json:"failed_records"`
		}
		if json.Unmarshal(body, &report) != nil {
			return nil
		}
		var out []destinations.ItemError
		seen := map[int]bool{}
		for _, r := range report.Failed {
			if r.Index == nil || *r.Index < 0 || *r.Index >= items || seen[*r.Index] {
				continue
			}
			seen[*r.Index] = true
			msg := r.Message
			if msg == "" {
				msg = "failed validation"
			}
			if r.Field != "" {
				msg = fmt.Sprintf("%s: %s", r.Field, msg)
			}
			out = append(out, destinations.ItemError{Index: *r.Index, Class: destinations.Permanent, Status: status, Message: msg})
		}
		return out
	}
	return nil
}

// mixpanelRejectedAll reports whether a 2xx body of /engage or /groups says
// that no record was valid: "0", or verbose {"status": 0, "error": ...}.
// /import's {"code": 200, ...} and anything unreadable count as accepted.
func mixpanelRejectedAll(body []byte) (string, bool) {
	if string(body) == "0" {
		return "Mixpanel found no valid record in the request (response 0)", true
	}
	var verbose struct {
		Status json.RawMessage `json:"status"`
		Error  string          `json:"error"`
	}
	if json.Unmarshal(body, &verbose) != nil || string(verbose.Status) != "0" {
		return "", false
	}
	msg := verbose.Error
	if msg == "" {
		msg = "no valid record in the request"
	}
	return "Mixpanel: " + msg, true
}
