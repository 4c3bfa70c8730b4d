package router_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
)

// hubspotCRM is a HubSpot-like CRM for the lanes: contacts and companies
// batch-upserted, read back by email or segment_group_id (404 until
// then), and the v4 default association between known ids.
type hubspotCRM struct {
	*httptest.Server
	mu        sync.Mutex
	contacts  map[string]string // email -> id
	companies map[string]string // segment_group_id -> id
	assoc     []string
	misses    int // reads answered 404
	next      int
}

func newHubSpotCRM(t *testing.T) *hubspotCRM {
	c := &hubspotCRM{contacts: map[string]string{}, companies: map[string]string{}, next: 100}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer pat-e2e" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
		for i := range parts {
			parts[i], _ = url.PathUnescape(parts[i])
		}
		store := map[string]map[string]string{"contacts": c.contacts, "companies": c.companies}
		switch {
		case r.Method == http.MethodPost && len(parts) == 6 && parts[5] == "upsert":
			var in struct{ Inputs []struct{ ID string } }
			_ = json.Unmarshal(body, &in)
			for _, i := range in.Inputs {
				if store[parts[3]][i.ID] == "" {
					c.next++
					store[parts[3]][i.ID] = fmt.Sprint(c.next)
				}
			}
			_, _ = io.WriteString(w, `{"status":"COMPLETE","results":[]}`)
		case r.Method == http.MethodGet && len(parts) == 5:
			id := store[parts[3]][parts[4]]
			if id == "" {
				c.misses++
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"status":"error","message":"resource not found","category":"OBJECT_NOT_FOUND"}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"id":%q,"properties":{},"archived":false}`, id)
		case r.Method == http.MethodPut && len(parts) == 9:
			c.assoc = append(c.assoc, parts[4]+" -> "+parts[8])
			_, _ = fmt.Fprintf(w, `{"status":"COMPLETE","results":[{"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":280},"from":{"id":%q},"to":{"id":%q}}]}`, parts[4], parts[8]) //nolint:gosec // G705: a test fake's JSON answer
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *hubspotCRM) state() (assoc []string, misses int, company, contact string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.assoc...), c.misses, c.companies["acme"], c.contacts["jane@example.com"]
}

// An identify of a new user and its group call, published together: the
// association's reads come before the batched upserts land (404), the
// event is redelivered, and the association is made with both records'
// ids; a group call without the user's email is dead-lettered for the
// association alone, with the reason, its company still upserted; a user
// never identified is dead-lettered when the retry window closes, with
// the reason that no contact has the email.
func TestHubSpotGroupCallsAssociateOnceTheRecordsExist(t *testing.T) {
	crm := newHubSpotCRM(t)
	t.Setenv("HUBSPOT_E2E_TOKEN", "pat-e2e")
	e := newEnv(t, "", map[string]string{"crm": fmt.Sprintf(`type: hubspot
settings:
  access_token: ${HUBSPOT_E2E_TOKEN}
presets: [identify, group, associate_company]
actions:
  identify: {url: %[1]s/crm/v3/objects/contacts/batch/upsert}
  group: {url: %[1]s/crm/v3/objects/companies/batch/upsert}
  associate_company: {url: "%[1]s/crm/v4/objects/company/{companyId}/associations/default/contact/{contactId}"}
delivery:
  attempts: 1
  retry_window: 4s
  backoff: {initial: 100ms, max: 300ms}
  breaker: {failures: 1000}
`, crm.URL)})
	e.start()
	e.publish("web", map[string]any{"type": "identify", "messageId": "id-1", "userId": "u-1", "traits": map[string]any{"email": "jane@example.com"}})
	e.publish("web", map[string]any{"type": "group", "messageId": "grp-1", "userId": "u-1", "groupId": "acme",
		"context": map[string]any{"traits": map[string]any{"email": "jane@example.com"}}, "traits": map[string]any{"name": "Acme"}})
	e.waitSettled("crm", 2, 20*time.Second)
	assoc, misses, company, contact := crm.state()
	if company == "" || contact == "" || fmt.Sprint(assoc) != fmt.Sprintf("[%s -> %s]", company, contact) {
		t.Fatalf("associations %v, want [%s -> %s]", assoc, company, contact)
	}
	if misses == 0 || e.count("crm", router.Retried) == 0 {
		t.Errorf("misses %d, retried %d: the reads never came before the upserts, so the ordering was not exercised", misses, e.count("crm", router.Retried))
	}
	if d := e.count("crm", router.Delivered); d != 2 {
		t.Fatalf("delivered %d, want 2: %s", d, e.outcomes("crm"))
	}

	e.publish("web", map[string]any{"type": "group", "messageId": "grp-2", "userId": "u-2", "groupId": "initech",
		"traits": map[string]any{"name": "Initech", "email": "billing@initech.example"}})
	e.publish("web", map[string]any{"type": "group", "messageId": "grp-3", "userId": "u-3", "groupId": "acme",
		"context": map[string]any{"traits": map[string]any{"email": "never@example.com"}}})
	e.waitSettled("crm", 4, 30*time.Second)
	if d := e.count("crm", router.DeadLettered); d != 2 {
		t.Fatalf("dead_lettered %d, want 2: %s", d, e.outcomes("crm"))
	}
	reasons, actions := map[string]string{}, map[string]string{}
	for _, d := range e.dlq("crm") {
		reasons[d.MessageID], actions[d.MessageID] = d.Reason, fmt.Sprint(d.Actions)
	}
	if r, a := reasons["grp-2"], actions["grp-2"]; a != "[associate_company]" || !strings.Contains(r, "context.traits.email") {
		t.Errorf("no email: actions %s, reason %q", a, r)
	}
	if r := reasons["grp-3"]; !strings.Contains(r, "retry window") || !strings.Contains(r, "no HubSpot contact has the email") || strings.Contains(r, "never@example.com") {
		t.Errorf("never identified: reason %q", r)
	}
	crm.mu.Lock()
	defer crm.mu.Unlock()
	if crm.companies["initech"] == "" || len(crm.assoc) != 1 {
		t.Errorf("companies %v, associations %v: the company upsert must go without the association", crm.companies, crm.assoc)
	}
}

// intercomAPI is an Intercom-like API for the lanes: contacts searched,
// created and updated; companies created or updated by company_id (the
// first create answers 503, as a tool in trouble does), retrieved by
// company_id (404 until then); a contact attached by both Intercom ids.
type intercomAPI struct {
	*httptest.Server
	mu        sync.Mutex
	contacts  map[string]string // external_id -> id
	companies map[string]string // company_id -> id
	attached  []string
	misses    int
	creates   int
}

func newIntercomAPI(t *testing.T) *intercomAPI {
	c := &intercomAPI{contacts: map[string]string{}, companies: map[string]string{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer ic-e2e" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/contacts/search":
			var q struct{ Query struct{ Field, Value string } }
			_ = json.Unmarshal(body, &q)
			data := ""
			if id := c.contacts[q.Query.Value]; q.Query.Field == "external_id" && id != "" {
				data = fmt.Sprintf(`{"type":"contact","id":%q}`, id)
			}
			_, _ = fmt.Fprintf(w, `{"type":"list","data":[%s]}`, data)
		case r.Method == http.MethodPost && r.URL.Path == "/contacts":
			var ct struct {
				ExternalID string `json:"external_id"`
			}
			_ = json.Unmarshal(body, &ct)
			c.contacts[ct.ExternalID] = fmt.Sprintf("c%d", len(c.contacts)+1)
			_, _ = fmt.Fprintf(w, `{"type":"contact","id":%q}`, c.contacts[ct.ExternalID])
		case r.Method == http.MethodPost && r.URL.Path == "/companies":
			if c.creates++; c.creates == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			var co struct {
				CompanyID string `json:"company_id"`
			}
			_ = json.Unmarshal(body, &co)
			if c.companies[co.CompanyID] == "" {
				c.companies[co.CompanyID] = fmt.Sprintf("co%d", len(c.companies)+1)
			}
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q}`, c.companies[co.CompanyID])
		case r.Method == http.MethodGet && r.URL.Path == "/companies":
			id := c.companies[r.URL.Query().Get("company_id")]
			if id == "" {
				c.misses++
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"type":"error.list","errors":[{"code":"company_not_found","message":"Company Not Found"}]}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q,"company_id":%q}`, id, r.URL.Query().Get("company_id")) //nolint:gosec // G705: a test fake's JSON answer
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/companies"):
			var b struct{ ID string }
			_ = json.Unmarshal(body, &b)
			c.attached = append(c.attached, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/contacts/"), "/companies")+" -> "+b.ID)
			_, _ = fmt.Fprintf(w, `{"type":"company","id":%q}`, b.ID)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

// A new user's identify and group call: the company's first create fails
// (503), so the attach's company lookup finds nothing and is retried; the
// redelivery creates the company and attaches the contact by both ids.
func TestIntercomGroupCallsAttachOnceTheCompanyExists(t *testing.T) {
	api := newIntercomAPI(t)
	t.Setenv("INTERCOM_E2E_TOKEN", "ic-e2e")
	e := newEnv(t, "", map[string]string{"ic": fmt.Sprintf(`type: intercom
settings:
  access_token: ${INTERCOM_E2E_TOKEN}
  endpoint: %s
delivery:
  attempts: 1
  backoff: {initial: 100ms, max: 300ms}
  breaker: {failures: 1000}
`, api.URL)})
	e.start()
	e.publish("web", map[string]any{"type": "identify", "messageId": "id-1", "userId": "u-1", "traits": map[string]any{"email": "jane@example.com"}})
	e.publish("web", map[string]any{"type": "group", "messageId": "grp-1", "userId": "u-1", "groupId": "acme", "traits": map[string]any{"name": "Acme"}})
	e.waitSettled("ic", 2, 20*time.Second)
	if d := e.count("ic", router.Delivered); d != 2 {
		t.Fatalf("delivered %d, want 2: %s", d, e.outcomes("ic"))
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if want := fmt.Sprintf("[%s -> %s]", api.contacts["u-1"], api.companies["acme"]); api.contacts["u-1"] == "" || fmt.Sprint(api.attached) != want {
		t.Fatalf("attached %v, want %s", api.attached, want)
	}
	if api.misses == 0 {
		t.Error("the attach never looked the company up before it existed: the ordering was not exercised")
	}
}
