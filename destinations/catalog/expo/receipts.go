package expo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

// Push receipts (https://docs.expo.dev/push-notifications/sending-notifications/#push-receipts).
//
// A push ticket "ok" only says Expo queued the message. Whether Apple or
// Google accepted it is in the receipt of that ticket, available from
// /push/getReceipts some time later (Expo: usually within 15 minutes,
// kept for 24 hours). The receipt is also where most DeviceNotRegistered
// errors appear, so a sender that reads only tickets keeps pushing to
// dead tokens.
//
// At runtime (registered as the "expo" receipts handler, named by the
// definition's receipts:), the Sender reads each delivered message's ticket
// id (Tickets), the router keeps the ids durably, and about 15 minutes after
// sending asks for their receipts (Check), ReceiptChunk at a time; pending
// ones are asked again until Expo's 24 hours run out
// (docs/delivery.md#receipts).

func init() {
	destinations.RegisterReceipts("expo", receipts{})
}

// receipts is the "expo" receipts handler.
type receipts struct{}

// Tickets reads the ticket ids of /push/send's answer: data holds one
// ticket per message, in the request's order; an "ok" ticket has the id
// its receipt is asked by, an errored one none (ItemErrors fails it).
func (receipts) Tickets(status int, body []byte, items int) []string {
	if status < 200 || status > 299 {
		return nil
	}
	var resp struct {
		Data []ticket `json:"data"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return nil
	}
	out := make([]string, min(len(resp.Data), items))
	for i := range out {
		if t := resp.Data[i]; t.Status == "ok" {
			out[i] = t.ID
		}
	}
	return out
}

// Recipient is a message's push token ("to"; the first, when it is a list).
func (receipts) Recipient(item []byte) string {
	var m struct {
		To json.RawMessage `json:"to"`
	}
	if json.Unmarshal(item, &m) != nil {
		return ""
	}
	var one string
	if json.Unmarshal(m.To, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(m.To, &many) == nil && len(many) > 0 {
		return many[0]
	}
	return ""
}

// pushToken matches Expo push tokens, which Expo's messages quote
// ("\"ExponentPushToken[...]\" is not a registered push notification
// recipient").
var pushToken = regexp.MustCompile(`(Expo(?:nent)?PushToken\[)([^\]"]*)(\])`)

// scrubTokens truncates the push tokens a message quotes to their first
// and last 4 characters: a token is a credential to message a device, and
// the message goes to logs and the console.
func scrubTokens(s string) string {
	return pushToken.ReplaceAllStringFunc(s, func(m string) string {
		p := pushToken.FindStringSubmatch(m)
		id := []rune(p[2])
		if len(id) <= 10 {
			return p[1] + "…" + p[3]
		}
		return p[1] + string(id[:4]) + "…" + string(id[len(id)-4:]) + p[3]
	})
}

// Codes are the receipt error codes Expo documents.
func (receipts) Codes() []string {
	return []string{DeviceNotRegistered, MessageTooBig, MessageRateExceeded, MismatchSenderId, InvalidCredentials}
}

// Check asks for receipts at t (the definition's receipts URL and headers).
func (receipts) Check(ctx context.Context, t destinations.ReceiptTarget, ids []string) (map[string]destinations.Receipt, error) {
	c := &ReceiptChecker{URL: t.URL, Header: t.Header, Client: t.Client}
	got, err := c.Check(ctx, ids)
	out := make(map[string]destinations.Receipt, len(got))
	for id, o := range got {
		r := destinations.Receipt{Pending: o.Pending, Code: o.Code, Message: scrubTokens(o.Message), DeadRecipient: o.DeadToken}
		if !o.Pending && o.Class != destinations.OK && r.Code == "" {
			r.Code = "UnknownError" // an error receipt without details.error
		}
		out[id] = r
	}
	return out, err
}

// ReceiptsURL is Expo's receipts endpoint.
const ReceiptsURL = "https://exp.host/--/api/v2/push/getReceipts"

// ReceiptChunk is the most ticket ids one getReceipts request may carry
// (Expo: "you can request at most 1,000 receipts at a time").
const ReceiptChunk = 1000

// maxReceiptResponse bounds one getReceipts answer (1,000 receipts of a few
// hundred bytes each).
const maxReceiptResponse = 4 << 20

// Outcome is what a receipt says about one ticket.
type Outcome struct {
	TicketID string
	// Pending: Expo has no receipt for the ticket yet (or no longer: they
	// are kept 24 hours). Check again later.
	Pending bool
	// Class of the message: OK (delivered to Apple or Google), Retryable
	// (MessageRateExceeded) or Permanent.
	Class destinations.Class
	// Code is Expo's error code (details.error), "" when delivered.
	Code string
	// Message is Expo's message with what to do about it.
	Message string
	// DeadToken is set for DeviceNotRegistered: the token must be removed.
	DeadToken bool
}

// ReceiptChecker fetches receipts. The zero value uses ReceiptsURL and a
// client with a 30 s timeout.
type ReceiptChecker struct {
	URL string
	// AccessToken is the Expo access token, when the project requires
	// push security ("Enhanced Security for Push Notifications").
	AccessToken string
	// Header holds more headers for every request (the definition's
	// receipts headers); an empty value is not sent.
	Header http.Header
	Client *http.Client
}

// Check fetches the receipts of ids, ReceiptChunk at a time, and returns
// an outcome for every distinct id that was asked about. A chunk that
// fails (transport error, non-2xx, unreadable body) leaves its ids out of
// the map and is reported in the joined error; the other chunks' outcomes
// are still returned.
func (c *ReceiptChecker) Check(ctx context.Context, ids []string) (map[string]Outcome, error) {
	seen := make(map[string]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[string]Outcome, len(uniq))
	var errs []error
	for start := 0; start < len(uniq); start += ReceiptChunk {
		chunk := uniq[start:min(start+ReceiptChunk, len(uniq))]
		got, err := c.fetch(ctx, chunk)
		if err != nil {
			errs = append(errs, fmt.Errorf("expo receipts %d-%d of %d: %w", start+1, start+len(chunk), len(uniq), err))
			continue
		}
		for _, id := range chunk {
			t, ok := got[id]
			if !ok {
				out[id] = Outcome{TicketID: id, Pending: true, Class: destinations.Retryable, Message: "no receipt yet"}
				continue
			}
			out[id] = outcomeOf(id, t)
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return out, errors.Join(errs...)
}

func outcomeOf(id string, t ticket) Outcome {
	if t.Status == "ok" {
		return Outcome{TicketID: id, Class: destinations.OK}
	}
	code := t.Details.Error
	return Outcome{
		TicketID:  id,
		Class:     classOf(code),
		Code:      code,
		Message:   describe(code, t.Message),
		DeadToken: code == DeviceNotRegistered,
	}
}

func (c *ReceiptChecker) fetch(ctx context.Context, ids []string) (map[string]ticket, error) {
	body, err := json.Marshal(map[string][]string{"ids": ids})
	if err != nil {
		return nil, err
	}
	u := c.URL
	if u == "" {
		u = ReceiptsURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", destinations.UserAgent)
	for k, vs := range c.Header {
		for _, v := range vs {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	if c.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReceiptResponse))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 300)]))
	}
	var parsed struct {
		Data map[string]ticket `json:"data"`
	}
	if err := json.Unmarshal(data, &parsed); err != nil {
		return nil, fmt.Errorf("the answer is not receipts JSON: %w", err)
	}
	return parsed.Data, nil
}
