package intercom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/switchyard/switchyard/destinations"
)

// The attach_company preset renders POST /contacts/{contactId}/companies
// with this placeholder and a body naming the contact (external_id, else
// email) and the company (company_id, the groupId) by the keys switchyard
// knows. Intercom attaches by its own ids
// (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/attachcontacttoacompany:
// path contact_id and body id, both "given by Intercom"), so the authorizer
// looks both up, puts the contact's id in the path and sends {"id":
// <company id>}. A request without the placeholder (a dead letter replayed
// after resolution) is sent as it is.
const attachPlaceholderPath = "/contacts/{contactId}/companies"

// attachKeys is the body the attach_company preset renders.
type attachKeys struct {
	Contact struct {
		ExternalID any    `json:"external_id"`
		Email      string `json:"email"`
	} `json:"contact"`
	Company struct {
		CompanyID string `json:"company_id"`
	} `json:"company"`
}

// resolveAttach turns the preset's request into Intercom's attach. A contact
// or company Intercom does not hold yet is Retryable: the identify that
// creates the contact, or this event's own company upsert (the group
// preset), may still be on its way.
func (c *Contacts) resolveAttach(ctx context.Context, r *destinations.Request, u *url.URL) error {
	var keys attachKeys
	if err := json.Unmarshal(r.Body, &keys); err != nil || keys.Company.CompanyID == "" ||
		((keys.Contact.ExternalID == nil || keys.Contact.ExternalID == "") && keys.Contact.Email == "") {
		return &destinations.AuthError{Class: destinations.Permanent, Err: errors.New(
			"attaching the contact to the company: the body must name contact {external_id and/or email} and company {company_id} (the attach_company preset's fields)")}
	}
	companyID, err := c.company(ctx, u, r.Header, keys.Company.CompanyID)
	if err != nil {
		return err
	}
	contactID := ""
	for _, q := range []struct {
		field string
		value any
	}{{"external_id", keys.Contact.ExternalID}, {"email", keys.Contact.Email}} {
		if q.value == nil || q.value == "" {
			continue
		}
		if contactID, err = c.search(ctx, u, r.Header, q.field, q.value); err != nil {
			return err
		}
		if contactID != "" {
			break
		}
	}
	if contactID == "" {
		return &destinations.AuthError{Class: destinations.Retryable, Err: errors.New(
			"no Intercom contact has this group call's userId as external_id, or its email (context.traits.email): the identify preset " +
				"creates it, and an identify of this user may still be on its way, so the attach is retried until the retry window closes; " +
				"a user never identified is then dead-lettered with this reason")}
	}
	body, _ := json.Marshal(map[string]string{"id": companyID})
	u.Path, u.RawPath, u.RawQuery = "/contacts/"+contactID+"/companies", "/contacts/"+url.PathEscape(contactID)+"/companies", ""
	r.URL, r.Body, r.ValidJSON = u.String(), body, true
	return nil
}

// company returns the Intercom id of the company whose company_id is
// companyID: GET /companies?company_id=
// (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/retrievecompany),
// answered with the company, or with a list of companies (the API's two
// documented shapes), or 404 when there is none.
func (c *Contacts) company(ctx context.Context, base *url.URL, h http.Header, companyID string) (string, error) {
	const what = "retrieving the Intercom company by company_id"
	cu := url.URL{Scheme: base.Scheme, Host: base.Host, Path: "/companies", RawQuery: url.Values{"company_id": {companyID}}.Encode()}
	req, err := c.lookupRequest(http.MethodGet, cu.String(), h, nil)
	if err != nil {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	ans, err := destinations.DoLookup(ctx, c.lookupClient(), req, what)
	if err != nil {
		return "", err
	}
	absent := &destinations.AuthError{Class: destinations.Retryable, Err: fmt.Errorf(
		"the Intercom company whose company_id is %q is not there yet: the group preset's create or update of this event may not have "+
			"landed, so the attach is retried; if it never lands, check that the group preset is on and succeeds", companyID)}
	switch ans.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", absent
	default:
		return "", ans.Failure(what)
	}
	var got struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data []struct {
			ID        string `json:"id"`
			CompanyID string `json:"company_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.Body, &got); err != nil {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: the answer is not a company: %w", what, err)}
	}
	switch {
	case got.Type == "company" && got.ID != "":
		return got.ID, nil
	case got.Type == "list":
		for _, d := range got.Data {
			if d.CompanyID == companyID && d.ID != "" {
				return d.ID, nil
			}
		}
		return "", absent
	}
	return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: the answer is neither a company nor a list of companies", what)}
}
