package amplitude

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("amplitude", ItemErrors)
}

// ItemErrors reads the events Amplitude's HTTP V2 API names when it
// refuses an upload, registered as "amplitude"
// (https://amplitude.com/docs/apis/analytics/http-v2#response-format).
//
// Amplitude ingests an upload whole or not at all. A 200 means every event
// was ingested, so a 2xx yields nil. A 400 caused by some events lists them
// by their position in the events array:
//
//	{"code": 400, "error": "Request missing required field",
//	 "events_with_invalid_fields": {"time": [3]},
//	 "events_with_missing_fields": {"event_type": [5]},
//	 "events_with_invalid_id_lengths": {"device_id": [7]},
//	 "silenced_events": [9]}
//
// The listed events are permanent failures, each with the fields at fault;
// every other event of the upload was refused only because it travelled
// with them, so it is Retryable and goes out again in a later batch. A 400
// that lists no event (a missing api_key, a body that is not JSON) yields
// nil: the whole request's classification stands.
//
// The Sender applies item errors to 2xx responses only (sender.go), so
// until it also consults them on a 4xx, an Amplitude 400 dead-letters the
// whole batch; the parser is registered so that the catalog states the
// tool's convention and the behaviour follows once the Sender does.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status != http.StatusBadRequest {
		return nil
	}
	var report struct {
		Error          string           `json:"error"`
		InvalidFields  map[string][]int `json:"events_with_invalid_fields"`
		MissingFields  map[string][]int `json:"events_with_missing_fields"`
		InvalidIDs     map[string][]int `json:"events_with_invalid_id_lengths"`
		SilencedEvents []int            `json:"silenced_events"`
	}
	if json.Unmarshal(body, &report) != nil {
		return nil
	}
	reasons := map[int][]string{}
	add := func(kind string, byField map[string][]int) {
		for field, idx := range byField {
			for _, i := range idx {
				if i >= 0 && i < items {
					reasons[i] = append(reasons[i], kind+" "+field)
				}
			}
		}
	}
	add("invalid", report.InvalidFields)
	add("missing", report.MissingFields)
	add("id shorter than min_id_length:", report.InvalidIDs)
	for _, i := range report.SilencedEvents {
		if i >= 0 && i < items {
			reasons[i] = append(reasons[i], "device silenced by Amplitude")
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	out := make([]destinations.ItemError, 0, items)
	for i := 0; i < items; i++ {
		r, bad := reasons[i]
		if !bad {
			out = append(out, destinations.ItemError{Index: i, Class: destinations.Retryable, Status: status,
				Message: "not ingested: Amplitude refused the upload because of other events in it"})
			continue
		}
		sort.Strings(r)
		msg := strings.Join(r, ", ")
		if report.Error != "" {
			msg = fmt.Sprintf("%s (%s)", msg, report.Error)
		}
		out = append(out, destinations.ItemError{Index: i, Class: destinations.Permanent, Status: status, Message: msg})
	}
	return out
}
