// Package intercom holds the Go quirk of the Intercom catalog tool: its
// authorizer, registered as "intercom-contacts", which adds the access
// token and turns a contact create into an update when the contact
// exists, because Intercom's API has no contact upsert.
package intercom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

// lookupTimeout bounds one contact search.
const lookupTimeout = 10 * time.Second

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
// send Retryable (the router retries authorizing like any passing fault).
// Two identifies of a new user racing each other can still both create:
// the second gets a 409, dead-lettered with Intercom's reason; its replay
// updates.
type Contacts struct {
	token  string
	client *http.Client
}

// NewContacts reads the access_token setting.
func NewContacts(settings map[string]any) (destinations.Authorizer, error) {
	tok, _ := settings["access_token"].(string)
	if strings.TrimSpace(tok) == "" {
		return nil, errors.New("access_token is empty: set it to the workspace's access token (Developer Hub > your app > Authentication)")
	}
	return &Contacts{token: strings.TrimSpace(tok), client: &http.Client{Timeout: lookupTimeout}}, nil
}

// DenyPrivate subjects the contact searches to the DenyPrivate check, as
// deliveries are (the region's host is the operator's choice).
func (c *Contacts) DenyPrivate() {
	dialer := &net.Dialer{Timeout: lookupTimeout, Control: destinations.DenyPrivateControl}
	c.client = &http.Client{Timeout: lookupTimeout, Transport: &http.Transport{
		DialContext: dialer.DialContext, TLSHandshakeTimeout: lookupTimeout, ForceAttemptHTTP2: true,
	}}
}

// Authorize sets the bearer token and resolves a contact create.
func (c *Contacts) Authorize(ctx context.Context, r *destinations.Request) error {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Authorization", "Bearer "+c.token)
	u, err := url.Parse(r.URL)
	if err != nil || r.Method != http.MethodPost || strings.TrimSuffix(u.Path, "/") != "/contacts" || r.Items > 1 {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, su.String(), bytes.NewReader(q))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", destinations.UserAgent)
	if v := h.Get("Intercom-Version"); v != "" {
		req.Header.Set("Intercom-Version", v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("searching the Intercom contact by %s: %w", field, redactURL(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("searching the Intercom contact by %s: HTTP %d: %s", field, resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 300)]))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return "", fmt.Errorf("searching the Intercom contact by %s: the answer is not a contact list: %w", field, err)
	}
	if len(list.Data) == 0 {
		return "", nil
	}
	return list.Data[0].ID, nil
}

// redactURL keeps a transport error's cause without the request URL.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var _ destinations.Authorizer = (*Contacts)(nil)
