package expo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// Intended runtime behaviour (to be wired by the router, which keeps the
// ticket ids of delivered messages): about 15 minutes after a batch is
// delivered, Check its ticket ids; a Permanent outcome is reported for the
// event with the receipt's reason (DeviceNotRegistered: remove the token),
// Pending ids are checked again later until the 24 hours run out, and a
// Retryable outcome (MessageRateExceeded) is the message's to resend.

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
	Client      *http.Client
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
