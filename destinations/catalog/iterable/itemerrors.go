// Package iterable holds Iterable's Go quirk: reading which users and
// events of a bulk request Iterable refused (item_errors: iterable).
package iterable

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrorMatcher("iterable", ItemErrors)
}

// ItemErrors reads the refusals in Iterable's answers, registered as
// "iterable" (a matcher: it reads the request as sent as well).
//
// users/bulkUpdate and events/trackBulk answer 200 when they took the
// request, with counts and the users whose items they refused, by email and
// userId, not by position (UserBulkUpdateListResponse and BulkTrackResponse
// in https://api.iterable.com/api/docs):
//
//	{"successCount": 2, "failCount": 1,
//	 "failedUpdates": {"invalidEmails": ["jane@"], "forgottenUserIds": []},
//	 "invalidEmails": ["jane@"], "disallowedEventNames": []}
//
// The items carrying a named email or userId fail, permanently (a retry
// sends the same user again), with Iterable's category: an email (compared
// without case) or userId at the top of the item, else anywhere in its
// dataFields; a malformed one (failedUpdates' invalidEmails and
// invalidUserIds, which Iterable looks for in dataFields too) in either
// place. trackBulk's disallowedEventNames fail the events of those names.
// The deprecated top-level invalidEmails and invalidUserIds name items too,
// when failedUpdates did not already.
//
// Where the answer cannot say which items failed but reports failures, every
// item fails rather than one Iterable refused be reported delivered (the DLQ
// keeps them for a replay; event ids and upserts make the replay harmless for
// those it took): a failCount above the items named, a value no item carries,
// a failure list of a kind this parser does not know, an answer that mentions
// failures but is not readable JSON (cut at the response limit, say), or a
// request whose items cannot be read. A 2xx that reports no failure is
// Iterable's acceptance: the single-event endpoints answer {"code":
// "Success", "msg": ...}.
//
// A single item's 4xx carries Iterable's code and msg ({"code":
// "ForgottenUserError", "msg": ...}) into its dead letter; a batch's 4xx
// stands as the status says, for the whole batch.
func ItemErrors(status int, body, request []byte, items int) []destinations.ItemError {
	switch {
	case status >= 400 && status < 500:
		return singleRefusal(status, body, items)
	case status < 200 || status >= 300:
		return nil
	}
	failAll := func(format string, args ...any) []destinations.ItemError {
		return destinations.AllItemsFail(items, destinations.Permanent, status, fmt.Sprintf(format, args...))
	}
	var ans answer
	if err := json.Unmarshal(body, &ans); err != nil {
		if !mentionsFailures.Match(body) {
			return nil
		}
		return failAll("Iterable's answer reports failures but is not readable JSON (%v): cannot tell which items failed", err)
	}
	lists, err := ans.lists()
	if err != nil {
		return failAll("%v: cannot tell which items failed", err)
	}
	failCount := 0
	if ans.FailCount != nil {
		failCount = *ans.FailCount
	}
	if failCount <= 0 && len(lists) == 0 {
		return nil
	}
	ix, err := requestItems(request, items)
	if err != nil {
		return failAll("Iterable reports %d failures, but the request's items cannot be read to tell which: %v", failCount, err)
	}
	reasons := make([][]string, items)
	for _, l := range lists {
		for _, v := range l.values {
			hit := ix.find(l.kind, v, l.anywhere)
			if len(hit) == 0 {
				return failAll("Iterable refused %s %q (%s), which no item of the request carries: cannot tell which items failed", l.kind, clip(v), l.name)
			}
			for _, i := range hit {
				if l.deprecated && len(reasons[i]) > 0 {
					continue // failedUpdates said why already
				}
				r := fmt.Sprintf("Iterable refused %s %q: %s (%s)", l.kind, clip(v), l.why, l.name)
				if !slices.Contains(reasons[i], r) {
					reasons[i] = append(reasons[i], r)
				}
			}
		}
	}
	named := 0
	for _, r := range reasons {
		if len(r) > 0 {
			named++
		}
	}
	var out []destinations.ItemError
	for i, r := range reasons {
		msg := strings.Join(r, "; ")
		if msg == "" {
			if failCount <= named {
				continue
			}
			msg = fmt.Sprintf("Iterable reports %d failures but names %d of the request's %d items: cannot tell which others failed", failCount, named, items)
		}
		out = append(out, destinations.ItemError{Index: i, Class: destinations.Permanent, Status: status, Message: msg})
	}
	return out
}

// answer is a bulk endpoint's 200; a single-event endpoint's has none of
// these fields.
type answer struct {
	FailCount            *int                       `json:"failCount"`
	FailedUpdates        map[string]json.RawMessage `json:"failedUpdates"`
	InvalidEmails        []string                   `json:"invalidEmails"`
	InvalidUserIDs       []string                   `json:"invalidUserIds"`
	DisallowedEventNames []string                   `json:"disallowedEventNames"`
}

// list is one list of refused values in an answer.
type list struct {
	name       string // where it is, e.g. failedUpdates.invalidEmails
	kind       string // email, userId or eventName
	why        string // Iterable's meaning of the list
	values     []string
	deprecated bool // a top-level list failedUpdates supersedes
	// anywhere: the values were found at the top of an item or in its
	// dataFields (malformed ones, FailedUserUpdates' invalidEmails and
	// invalidUserIds), so an item carrying one in either place fails.
	anywhere bool
}

// failedCategories are failedUpdates' lists, as FailedUserUpdates and
// FailedEventUpdates describe them.
var failedCategories = map[string]string{
	"conflict":    "an existing user's identifier prevented the update",
	"forgotten":   "the user is GDPR-forgotten in this project",
	"invalidData": "invalid data in dataFields",
	"invalid":     "malformed",
	"notFound":    "no such user",
}

// lists are the answer's non-empty lists, failedUpdates' first (in name
// order), then the deprecated and trackBulk's top-level ones. A
// failedUpdates entry that is not a list of texts, or whose name says
// neither email nor userId, cannot be matched: an error.
func (a *answer) lists() ([]list, error) {
	var out []list
	for _, name := range slices.Sorted(maps.Keys(a.FailedUpdates)) {
		var values []string
		if err := json.Unmarshal(a.FailedUpdates[name], &values); err != nil {
			return nil, fmt.Errorf("failedUpdates.%s in Iterable's answer is not a list of texts", name)
		}
		if len(values) == 0 {
			continue
		}
		kind, category := "", ""
		switch {
		case strings.HasSuffix(name, "Emails"):
			kind, category = "email", strings.TrimSuffix(name, "Emails")
		case strings.HasSuffix(name, "UserIds"):
			kind, category = "userId", strings.TrimSuffix(name, "UserIds")
		default:
			return nil, fmt.Errorf("failedUpdates.%s in Iterable's answer names %d values of a kind this parser does not know", name, len(values))
		}
		why, ok := failedCategories[category]
		if !ok {
			why = "refused"
		}
		out = append(out, list{name: "failedUpdates." + name, kind: kind, why: why, values: values, anywhere: category == "invalid"})
	}
	for _, l := range []list{
		{name: "invalidEmails", kind: "email", why: "failed", values: a.InvalidEmails, deprecated: true},
		{name: "invalidUserIds", kind: "userId", why: "failed", values: a.InvalidUserIDs, deprecated: true},
		{name: "disallowedEventNames", kind: "eventName", why: "the project disallows this event name", values: a.DisallowedEventNames},
	} {
		if len(l.values) > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// mentionsFailures finds, in an answer that is not readable JSON, a
// non-zero failCount or a failure list with a value in it.
var mentionsFailures = regexp.MustCompile(`"failCount"\s*:\s*"?[1-9]|"(?:[A-Za-z]*(?:Emails|UserIds)|disallowedEventNames)"\s*:\s*\[\s*"`)

// requestIndex finds the items of a request by what they carry: each
// kind's value at the top of the item, and, built on first need, every text
// in its dataFields (where Iterable also looks for malformed emails and
// userIds). Emails are keyed in lower case: Iterable compares them so.
type requestIndex struct {
	top        map[string]map[string][]int // kind -> key -> items
	dataFields []json.RawMessage
	data       map[string][]int // text in dataFields -> items (each once)
	dataFold   map[string][]int // the same, in lower case
}

// requestItems reads the items of a request as sent: {"users": [...]},
// {"events": [...]}, or a single-event body (one item).
func requestItems(request []byte, items int) (*requestIndex, error) {
	var raw []json.RawMessage
	var bulk struct {
		Users  []json.RawMessage `json:"users"`
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(request, &bulk); err != nil {
		return nil, fmt.Errorf("the request is not a JSON object: %w", err)
	}
	switch {
	case bulk.Users != nil:
		raw = bulk.Users
	case bulk.Events != nil:
		raw = bulk.Events
	default:
		raw = []json.RawMessage{request}
	}
	if len(raw) != items {
		return nil, fmt.Errorf("the request holds %d items, the batch %d", len(raw), items)
	}
	ix := &requestIndex{
		top:        map[string]map[string][]int{"email": {}, "userId": {}, "eventName": {}},
		dataFields: make([]json.RawMessage, len(raw)),
	}
	for i, r := range raw {
		var f struct {
			Email      any             `json:"email"`
			UserID     any             `json:"userId"`
			EventName  any             `json:"eventName"`
			DataFields json.RawMessage `json:"dataFields"`
		}
		if err := json.Unmarshal(r, &f); err != nil {
			return nil, fmt.Errorf("item %d is not a JSON object: %w", i, err)
		}
		for kind, v := range map[string]any{"email": f.Email, "userId": f.UserID, "eventName": f.EventName} {
			if s, ok := v.(string); ok {
				k := key(kind, s)
				ix.top[kind][k] = append(ix.top[kind][k], i)
			}
		}
		ix.dataFields[i] = f.DataFields
	}
	return ix, nil
}

func key(kind, v string) string {
	if kind == "email" {
		return strings.ToLower(v)
	}
	return v
}

// find lists the items carrying v as kind: at the top of the item, else
// (emails and userIds) anywhere in its dataFields; with anywhere, in
// either place.
func (ix *requestIndex) find(kind, v string, anywhere bool) []int {
	hit := ix.top[kind][key(kind, v)]
	if kind == "eventName" || (len(hit) > 0 && !anywhere) {
		return hit
	}
	in := ix.inData(kind, v)
	if len(hit) == 0 {
		return in
	}
	out := slices.Clone(hit)
	for _, i := range in {
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// inData lists the items whose dataFields hold v as a text (an email
// without case).
func (ix *requestIndex) inData(kind, v string) []int {
	if ix.data == nil {
		ix.data, ix.dataFold = map[string][]int{}, map[string][]int{}
		for i, raw := range ix.dataFields {
			var data any
			_ = json.Unmarshal(raw, &data) // nil when absent
			texts := map[string]bool{}
			collect(data, texts, 0)
			folded := map[string]bool{}
			for t := range texts {
				ix.data[t] = append(ix.data[t], i)
				if f := strings.ToLower(t); !folded[f] {
					folded[f] = true
					ix.dataFold[f] = append(ix.dataFold[f], i)
				}
			}
		}
	}
	if kind == "email" {
		return ix.dataFold[strings.ToLower(v)]
	}
	return ix.data[v]
}

// maxDataDepth bounds the walk of dataFields; the router bounds an
// event's depth well below it.
const maxDataDepth = 64

// collect adds every text in data to texts.
func collect(data any, texts map[string]bool, depth int) {
	if depth > maxDataDepth {
		return
	}
	switch d := data.(type) {
	case string:
		texts[d] = true
	case map[string]any:
		for _, x := range d {
			collect(x, texts, depth+1)
		}
	case []any:
		for _, x := range d {
			collect(x, texts, depth+1)
		}
	}
}

// singleRefusal carries a single item's 4xx reason in Iterable's words
// into its error. A batch's 4xx is not split: nothing says which item.
func singleRefusal(status int, body []byte, items int) []destinations.ItemError {
	if items != 1 {
		return nil
	}
	var ans struct {
		Code string `json:"code"`
		Msg  string `json:"msg"`
	}
	if json.Unmarshal(body, &ans) != nil || (ans.Code == "" && ans.Msg == "") {
		return nil
	}
	msg := strings.TrimSpace("Iterable " + ans.Code)
	if ans.Msg != "" {
		msg += ": " + clip(ans.Msg)
	}
	return []destinations.ItemError{{Index: 0, Class: destinations.Permanent, Status: status, Message: msg}}
}

// clip bounds a value quoted in an error (a dead letter's reason).
func clip(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
