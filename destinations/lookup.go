package destinations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// AuthError is an Authorizer's error that knows how the send ends. An
// Authorizer that looks records up before a send (Intercom's contact
// search, HubSpot's company and contact reads) returns one when the
// lookup's answer decides it: a 429 or 5xx is Retryable, with the tool's
// Retry-After; a record not there yet is Retryable; a 401, 403 or 400 is
// Permanent, as the same status on the send itself would be. Any other
// Authorizer error is Retryable (minting credentials fails for passing
// reasons far more often than for lasting ones).
type AuthError struct {
	Class Class
	// RetryAfter is the tool's own Retry-After on the lookup, when it gave one.
	RetryAfter time.Duration
	Err        error
}

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// LookupTimeout bounds one lookup an Authorizer makes.
const LookupTimeout = 10 * time.Second

// MaxLookupBytes bounds a lookup's answer: a contact or company record, or
// a page of search results, is a few KiB.
const MaxLookupBytes = 1 << 20

// NewLookupClient is the HTTP client of an Authorizer's lookups, bounded by
// LookupTimeout; with denyPrivate, private addresses are refused and no
// proxy is used, as SenderConfig.DenyPrivate does for deliveries.
func NewLookupClient(denyPrivate bool) *http.Client {
	if !denyPrivate {
		return &http.Client{Timeout: LookupTimeout}
	}
	dialer := &net.Dialer{Timeout: LookupTimeout, Control: DenyPrivateControl}
	return &http.Client{Timeout: LookupTimeout, Transport: &http.Transport{
		DialContext: dialer.DialContext, TLSHandshakeTimeout: LookupTimeout, ForceAttemptHTTP2: true,
	}}
}

// LookupAnswer is one lookup's answer.
type LookupAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// DoLookup sends req with client and reads at most MaxLookupBytes of the
// answer. what names the lookup in errors ("reading the HubSpot company");
// a transport error is Retryable and never carries the request's URL
// (it may hold an email), an answer over the bound is Permanent.
func DoLookup(ctx context.Context, client *http.Client, req *http.Request, what string) (*LookupAnswer, error) {
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", UserAgent)
	resp, err := client.Do(req) //nolint:gosec // G704: the tool's own API, the host of the request being sent; DenyPrivate applies
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		class := Retryable
		if isDenied(err) {
			class = Permanent
		}
		return nil, &AuthError{Class: class, Err: fmt.Errorf("%s: %w", what, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxLookupBytes+1))
	if err != nil {
		return nil, &AuthError{Class: Retryable, Err: fmt.Errorf("%s: reading the answer: %w", what, err)}
	}
	if len(data) > MaxLookupBytes {
		return nil, &AuthError{Class: Permanent, Err: fmt.Errorf("%s: the answer is over %d bytes", what, MaxLookupBytes)}
	}
	return &LookupAnswer{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Failure is the AuthError for an answer that is neither the record nor
// its absence: classified as the same status on a send would be
// (Classify), with the tool's Retry-After and the start of its reason.
func (l *LookupAnswer) Failure(what string) *AuthError {
	e := &AuthError{Class: Classify(l.Status),
		Err: fmt.Errorf("%s: HTTP %d: %s", what, l.Status, bytes.TrimSpace(l.Body[:min(len(l.Body), 300)]))}
	if e.Class == OK {
		e.Class = Permanent // a 2xx we could not read
	}
	if d, ok := parseRetryAfter(l.Header.Get("Retry-After"), time.Now()); ok && e.Class == Retryable {
		e.RetryAfter = d
	}
	return e
}
