package customerio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("customerio", ItemErrors)
}

// ItemErrors reads the partial rejections of Customer.io's Track
// API v2 /batch, registered as "customerio".
//
// Customer.io answers 207 when "at least one object in the batch was
// invalid; all other requests are accepted", listing the invalid operations
// by zero-based batch_index
// (https://docs.customer.io/integrations/api/track/#tag/track-v2/batch):
//
//	HTTP/1.1 207 Multi-Status
//
//	{"errors": [{"batch_index": 1, "reason": "required", "field": "name",
//	             "message": "name is required"}]}
//
// Only the listed operations fail, permanently (they are validation errors);
// several errors for one operation are joined into one message. A 207 that
// cannot say which operations failed (a body that is not this JSON, an
// empty list, or an entry without a usable batch_index) fails every operation, permanently, so
// nothing is reported delivered that Customer.io may have refused: the DLQ
// keeps them for a replay, and event ids make the replay harmless for events
// that were accepted. Any other 2xx means the whole batch was accepted, and
// v1 endpoints, which take one call per request, never answer 207.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status != http.StatusMultiStatus {
		return nil
	}
	failAll := func(msg string) []destinations.ItemError {
		return destinations.AllItemsFail(items, destinations.Permanent, status, msg)
	}
	var report struct {
		Errors []struct {
			BatchIndex *int   `json:"batch_index"`
			Reason     string `json:"reason"`
			Field      string `json:"field"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &report); err != nil || len(report.Errors) == 0 {
		msg := `207 response without a readable {"errors":[...]} list`
		if err != nil {
			msg = fmt.Sprintf("%s: %v", msg, err)
		}
		return failAll(msg)
	}
	messages := map[int][]string{}
	var order []int
	for _, e := range report.Errors {
		msg := e.Message
		if msg == "" {
			msg = strings.TrimSpace(strings.TrimSuffix(fmt.Sprintf("%s: %s", cioOr(e.Reason, "invalid"), e.Field), ":"))
		}
		if e.BatchIndex == nil || *e.BatchIndex < 0 || *e.BatchIndex >= items {
			where := "without batch_index"
			if e.BatchIndex != nil {
				where = fmt.Sprintf("with batch_index %d outside the batch of %d", *e.BatchIndex, items)
			}
			return failAll(fmt.Sprintf("207 response lists an error %s (%s): cannot tell which operations failed", where, msg))
		}
		if _, seen := messages[*e.BatchIndex]; !seen {
			order = append(order, *e.BatchIndex)
		}
		messages[*e.BatchIndex] = append(messages[*e.BatchIndex], msg)
	}
	out := make([]destinations.ItemError, 0, len(order))
	for _, i := range order {
		out = append(out, destinations.ItemError{Index: i, Class: destinations.Permanent, Status: status, Message: strings.Join(messages[i], "; ")})
	}
	return out
}

func cioOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
