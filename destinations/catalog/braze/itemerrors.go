package braze

import (
	"encoding/json"
	"fmt"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("braze", ItemErrors)
}

// ItemErrors reads the non-fatal errors of Braze's /users/track,
// registered as "braze".
//
// Braze accepts a request whose objects are partly invalid and answers 2xx
// (201) with the rejected objects listed by array and zero-based position
// (https://www.braze.com/docs/api/endpoints/user_data/post_user_track/#responses):
//
//	{"message": "success",
//	 "errors": [{"type": "'external_id' or 'braze_id' or 'user_alias' is required",
//	             "input_array": "events", "index": 2}]}
//
// "Any data not affected by an error in the errors array will still be
// processed", so only the listed objects fail, permanently: they are
// validation errors that a retry would repeat. Each batch of the catalog's
// Braze presets fills exactly one array (attributes, events or purchases), so
// an entry's index is the item's position whatever its input_array. Entries
// without an index, outside the batch or repeated are ignored, and a body
// that is not this JSON means every object was accepted: a 2xx is Braze's
// statement that the request was processed. A fatal error is a 4xx, which
// fails the whole batch before this parser runs.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	var report struct {
		Errors []struct {
			Type       string `json:"type"`
			InputArray string `json:"input_array"`
			Index      *int   `json:"index"`
		} `json:"errors"`
	}
	if len(body) == 0 || json.Unmarshal(body, &report) != nil {
		return nil
	}
	var out []destinations.ItemError
	seen := make(map[int]bool, len(report.Errors))
	for _, e := range report.Errors {
		if e.Index == nil || *e.Index < 0 || *e.Index >= items || seen[*e.Index] {
			continue
		}
		seen[*e.Index] = true
		msg := e.Type
		if msg == "" {
			msg = "rejected by Braze"
		}
		if e.InputArray != "" {
			msg = fmt.Sprintf("%s[%d]: %s", e.InputArray, *e.Index, msg)
		}
		out = append(out, destinations.ItemError{Index: *e.Index, Class: destinations.Permanent, Status: status, Message: msg})
	}
	return out
}
