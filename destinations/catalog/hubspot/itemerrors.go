package hubspot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("hubspot", ItemErrors)
}

// ItemErrors reads HubSpot's answer to a CRM batch (contacts or companies
// batch upsert), registered as "hubspot"
// (https://developers.hubspot.com/docs/api/crm/understanding-the-crm#batch-operations).
//
// HubSpot answers 200 or 201 when every input was written, and 207
// Multi-Status when some failed, listing errors with a category, a message
// and a context of the ids involved, but not the inputs' positions:
//
//	{"status": "COMPLETE", "results": [...], "numErrors": 1,
//	 "errors": [{"status": "error", "category": "VALIDATION_ERROR",
//	             "message": "Property values were not valid", "context": {...}}]}
//
// A failed input cannot be told from a written one, so on a 207 every input
// of the batch fails Permanent with HubSpot's messages: an upsert is
// idempotent, so replaying the batch once the data is fixed rewrites the
// inputs that had succeeded without harm, whereas counting the batch
// delivered would lose the failed ones silently. Other 2xx answers yield
// nil.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status != http.StatusMultiStatus {
		return nil
	}
	var resp struct {
		NumErrors int `json:"numErrors"`
		Errors    []struct {
			Category string `json:"category"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(body, &resp)
	var msgs []string
	for i, e := range resp.Errors {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(resp.Errors)-3))
			break
		}
		m := e.Message
		if e.Category != "" {
			m = e.Category + ": " + m
		}
		msgs = append(msgs, m)
	}
	detail := "no error detail"
	if len(msgs) > 0 {
		detail = strings.Join(msgs, "; ")
	}
	n := resp.NumErrors
	if n == 0 {
		n = len(resp.Errors)
	}
	msg := fmt.Sprintf("HubSpot rejected %d input(s) of this batch of %d without saying which (207): %s; replay the batch once fixed (upserts are idempotent)", n, items, detail)
	return destinations.AllItemsFail(items, destinations.Permanent, status, msg)
}
