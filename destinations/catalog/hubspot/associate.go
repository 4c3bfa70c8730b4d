package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/switchyard/switchyard/destinations"
)

// The associate_company preset renders its request with these placeholders
// in place of HubSpot's record ids, and a body naming the records by the
// keys switchyard knows (the company's unique property, the contact's
// email); the authorizer reads both records, puts their ids in the path and
// drops the body. A request without the placeholders (a dead letter replayed
// after resolution) is sent as it is.
const (
	companyPlaceholder = "{companyId}"
	contactPlaceholder = "{contactId}"
)

// associationPath is HubSpot's v4 default association of a company with a
// contact (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide,
// "Associate records without a label"): PUT, no body.
const associationPath = "/crm/v4/objects/company/%s/associations/default/contact/%s"

var placeholderPath = fmt.Sprintf(associationPath, companyPlaceholder, contactPlaceholder)

// hubspotID is what HubSpot's record ids look like (hs_object_id, a number).
var hubspotID = regexp.MustCompile(`^[0-9]{1,20}$`)

var singular = map[string]string{"companies": "company", "contacts": "contact"}

// recordKey names one record by a unique property's value.
type recordKey struct {
	IDProperty string `json:"idProperty"`
	ID         string `json:"id"`
}

// associationKeys is the body the associate_company preset renders.
type associationKeys struct {
	Company recordKey `json:"company"`
	Contact recordKey `json:"contact"`
}

// resolveAssociation turns the preset's request into HubSpot's: it reads the
// company by its unique property and the contact by its email
// (GET /crm/v3/objects/{companies,contacts}/{id}?idProperty=..., which needs
// the crm.objects.companies.read and crm.objects.contacts.read scopes:
// https://developers.hubspot.com/docs/api/crm/understanding-the-crm, "Retrieve
// records by a unique property"), then names both by their ids.
func (a *Auth) resolveAssociation(ctx context.Context, r *destinations.Request, u *url.URL, token string) error {
	var keys associationKeys
	if err := json.Unmarshal(r.Body, &keys); err != nil || keys.Company.ID == "" || keys.Company.IDProperty == "" || keys.Contact.ID == "" || keys.Contact.IDProperty == "" {
		return &destinations.AuthError{Class: destinations.Permanent, Err: errors.New(
			"associating the contact with the company: the body must name company {idProperty, id} and contact {idProperty, id} (the associate_company preset's fields)")}
	}
	companyID, err := a.read(ctx, u, token, "companies", keys.Company, fmt.Sprintf(
		"the HubSpot company whose %s is %q is not there yet: the group preset's upsert of this event may not have landed "+
			"(it is batched), so the association is retried; if it never lands, check that the group preset is on and the company upserts",
		keys.Company.IDProperty, keys.Company.ID))
	if err != nil {
		return err
	}
	contactID, err := a.read(ctx, u, token, "contacts", keys.Contact, fmt.Sprintf(
		"no HubSpot contact has the %s this group call names (context.traits.email): the identify preset creates it, and an identify "+
			"of this user may still be on its way, so the association is retried until the retry window closes; a user never identified "+
			"with this email is then dead-lettered with this reason", keys.Contact.IDProperty))
	if err != nil {
		return err
	}
	u.Path, u.RawPath, u.RawQuery = fmt.Sprintf(associationPath, companyID, contactID), "", ""
	r.URL = u.String()
	r.Body, r.ValidJSON = nil, false
	r.Header.Del("Content-Type")
	return nil
}

// read returns the id of the record of object type objType whose property
// key.IDProperty is key.ID. A 404 is Retryable with absent as the reason: the
// record may be created by an action still in flight.
func (a *Auth) read(ctx context.Context, base *url.URL, token, objType string, key recordKey, absent string) (string, error) {
	what := fmt.Sprintf("reading the HubSpot %s by %s", singular[objType], key.IDProperty)
	prefix := "/crm/v3/objects/" + objType + "/"
	// The id is escaped: a groupId such as "a/b" cannot change the route.
	ru := url.URL{Scheme: base.Scheme, Host: base.Host, Path: prefix + key.ID, RawPath: prefix + url.PathEscape(key.ID),
		RawQuery: url.Values{"idProperty": {key.IDProperty}, "properties": {key.IDProperty}}.Encode()}
	req, err := http.NewRequest(http.MethodGet, ru.String(), nil)
	if err != nil {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: %w", what, err)}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	ans, err := destinations.DoLookup(ctx, a.lookupClient(), req, what)
	if err != nil {
		return "", err
	}
	switch ans.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", &destinations.AuthError{Class: destinations.Retryable, Err: errors.New(absent)}
	default:
		f := ans.Failure(what)
		if ans.Status == http.StatusForbidden {
			f.Err = fmt.Errorf("%w (the token needs the crm.objects.%s.read scope)", f.Err, objType)
		}
		return "", f
	}
	var rec struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(ans.Body, &rec); err != nil || !hubspotID.MatchString(rec.ID) {
		return "", &destinations.AuthError{Class: destinations.Permanent, Err: fmt.Errorf("%s: the answer is not a record with a numeric id", what)}
	}
	return rec.ID, nil
}
