// Package intercom holds the Go quirk of the Intercom catalog tool: its
// authorizer, registered as "intercom-contacts", which adds the access
// token, turns a contact create into an update when the contact exists
// (Intercom's API has no contact upsert), and resolves the contact and
// company ids an attach_company request needs.
package intercom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterAuth("intercom-contacts", NewContacts)
}

// Contacts authorizes Intercom requests with the workspace's access token
// and resolves contact creates.
//
// Intercom's POST /contacts always creates: a contact with the same
// external_id or email already there is a 409 Conflict
// (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/createcontact),
// and an update needs Intercom's own id (PUT /contacts/{id}). So before a
// POST /contacts is sent, Authorize searches the contact
// (POST /contacts/search) by external_id, else by email; when one is
// found, the request becomes PUT /contacts/{id} with the same body. Segment's
// Intercom destination does the same lookup. A search that fails makes the
// send Retryable when it may pass (a 429, a 5xx, the tool unreachable) and
// Permanent when it cannot (a 401, a 403), as the same answer to the send
// would (destinations.AuthError).
// Two identifies of a new user racing each other can still both create:
// the second gets a 409, dead-lettered with Intercom's reason; its replay
// updates.
//
// Lock order: mu only, never held across a lookup.
type Contacts struct {
	token string

	mu     sync.Mutex // guards client
	client *http.Client
}

// NewContacts reads the access_token setting.
func NewContacts(settings map[string]any) (destinations.Authorizer, error) {
	tok, _ := settings["access_token"].(string)
	if strings.TrimSpace(tok) == "" {
		return nil, errors.New("access_token is empty: set it to the workspace's access token (Developer Hub > your app > Authentication)")
	}
	return &Contacts{token: strings.TrimSpace(tok), client: destinations.NewLookupClient(false)}, nil
}

// DenyPrivate subjects the lookups to the DenyPrivate check, as
// deliveries are (the region's host is the operator's choice).
func (c *Contacts) DenyPrivate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.client = destinations.NewLookupClient(true)
}

func (c *Contacts) lookupClient() *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client
}

// Authorize sets the bearer token and resolves a contact create or an
// attach_company request.
func (c *Contacts) Authorize(ctx context.Context, r *destinations.Request) error {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "Bearer "+c.token)
	u, err := url.Parse(r.URL)
	if err != nil || r.Method != http.MethodPost || r.Items > 1 {
		return nil
	}
	if u.Path == attachPlaceholderPath {
		return c.resolveAttach(ctx, r, u)
	}
	if strings.TrimSuffix(u.Path, "/") != "/contacts" {
		return nil
	}
	var body struct {
		ExternalID any    `json:"external_id"`
		Email      string `json:"email"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return nil
	}
	for _, q := range []struct {
		field string
		value any
	}{{"external_id", body.ExternalID}, {"email", body.Email}} {
		if q.value == nil || q.value == "" {
			continue
		}
		id, err := c.search(ctx, u, r.Header, q.field, q.value)
		if err != nil {
			return err
		}
		if id != "" {
			r.Method = http.MethodPut
			u.Path = "/contacts/" + url.PathEscape(id)
			r.URL = u.String()
			return nil
		}
	}
	return nil
}

// search returns the id of the first contact whose field equals value, ""
// when there is none.
func (c *Contacts) search(ctx context.Context, base *url.URL, h http.Header, field string, value any) (string, error) {
	q, _ := json.Marshal(map[string]any{"query": map[string]any{"field": field, "operator": "=", "value": value}})
	su := *base
	su.Path, su.RawQuery = "/contacts/search", ""
	what := "searching the Intercom contact by " + field
	req, err := c.lookupRequest(http.MethodPost, su.String(), h, q)
	if err != nil {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	ans, err := destinations.DoLookup(ctx, c.lookupClient(), req, what)
	if err != nil {
		return "", err
	}
	if ans.Status != http.StatusOK {
		return "", ans.Failure(what)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.Body, &list); err != nil {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: the answer is not a contact list: %w", what, err)}
	}
	if len(list.Data) == 0 {
		return "", nil
	}
	return list.Data[0].ID, nil
}

// lookupRequest is a lookup with the token and the request's
// Intercom-Version (the answer's shape depends on it).
func (c *Contacts) lookupRequest(method, u string, h http.Header, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if v := h.Get("Intercom-Version"); v != "" {
		req.Header.Set("Intercom-Version", v)
	}
	return req, nil
}

var _ destinations.Authorizer = (*Contacts)(nil)
