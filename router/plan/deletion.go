package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// Deleting: a regulation that deletes users reaches each destination in
// its scope through the destination's delete actions: the catalog's
// (destinations.Deletion), overridden or added to in the destination file
// (actions with kind: delete), or, for a webhook without any, a delete
// event posted to its URL. The router sends what PlanDeletion and
// RenderDelete return through the destination's dispatcher, as it sends
// events (router/deletions.go).

// User is one user a regulation names. Email is optional: tools that key
// people by email (Mailchimp, SendGrid, HubSpot) need it.
type User struct {
	UserID      string `json:"userId,omitempty"`
	AnonymousID string `json:"anonymousId,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Deletion is one regulation's delete, as a destination renders it.
type Deletion struct {
	Regulation string `json:"regulation"`
	// Type is delete or suppress_with_delete.
	Type   string    `json:"type"`
	Reason string    `json:"reason,omitempty"`
	Users  []User    `json:"users"`
	At     time.Time `json:"at"`
}

// DeleteAction is a compiled delete action.
type DeleteAction struct {
	*mappings.Action
	// Preset names the catalog delete action it comes from ("" for one the
	// destination file declares).
	Preset string
	// UsersPerRequest is how many users one request names (at least 1).
	UsersPerRequest int
	// Lookup is sent before the action's request, when its when holds;
	// nil without one.
	Lookup       *mappings.Action
	LookupFound  *mappings.Program
	LookupAbsent []int
	// Absent are the statuses meaning the tool holds no such user.
	Absent []int
}

// DeleteChunk is the users one request of a delete action names. Action
// is nil for a webhook's delete event.
type DeleteChunk struct {
	Action *DeleteAction
	// Key is action#i (the i-th request of the action): a retried deletion
	// skips the keys that already finished.
	Key   string
	Users []User
}

// HasLookup reports whether the chunk's action sends a lookup first.
func (c DeleteChunk) HasLookup() bool { return c.Action != nil && c.Action.Lookup != nil }

// AbsentStatus reports whether status means that the tool holds no such
// user, for the chunk's delete request (lookup false) or its lookup.
func (c DeleteChunk) AbsentStatus(status int, lookup bool) bool {
	if c.Action == nil {
		return false
	}
	if lookup {
		return slices.Contains(c.Action.LookupAbsent, status)
	}
	return slices.Contains(c.Action.Absent, status)
}

// DeletePlan is what a destination makes of a deletion: the requests'
// users by action, the actions whose trigger is false, and those that
// failed to evaluate.
type DeletePlan struct {
	Chunks   []DeleteChunk
	Skipped  []Skip
	Failures []Failure
}

// DeleteUnsupported says why the destination cannot delete users, "" when
// it can.
func (p *Plan) DeleteUnsupported() string { return p.deleteUnsupported }

// PlanDeletion splits a deletion's users into the requests of each delete
// action whose trigger holds.
func (p *Plan) PlanDeletion(del Deletion) DeletePlan {
	var out DeletePlan
	if p.deleteForward {
		for i, u := range del.Users {
			out.Chunks = append(out.Chunks, DeleteChunk{Key: "delete#" + strconv.Itoa(i), Users: []User{u}})
		}
		return out
	}
	for _, a := range p.Deletes {
		n := max(a.UsersPerRequest, 1)
		matched := false
		for i := 0; i*n < len(del.Users); i++ {
			c := DeleteChunk{Action: a, Key: a.Name + "#" + strconv.Itoa(i), Users: del.Users[i*n : min((i+1)*n, len(del.Users))]}
			ok, err := a.Matches(p.deleteEnv(del, c, nil))
			if err != nil {
				out.Failures = append(out.Failures, Failure{Action: a.Name, Key: c.Key, Err: err})
				continue
			}
			if ok {
				matched = true
				out.Chunks = append(out.Chunks, c)
			}
		}
		if !matched && len(out.Failures) == 0 {
			out.Skipped = append(out.Skipped, Skip{Action: a.Name, Reason: "trigger is false: " + a.TriggerSource()})
		}
	}
	return out
}

// RenderLookup renders a chunk's lookup request: nil when the chunk has
// no lookup, or its when is false.
func (p *Plan) RenderLookup(del Deletion, c DeleteChunk) (*Outbound, error) {
	if !c.HasLookup() {
		return nil, nil
	}
	env := p.deleteEnv(del, c, nil)
	ok, err := c.Action.Lookup.Matches(env)
	if err != nil || !ok {
		return nil, err
	}
	out, err := p.renderDeleteAction(c.Action.Lookup, env, del, c)
	if err != nil {
		return nil, err
	}
	out.Req.WholeAnswer = true
	return out, nil
}

// LookupAnswer decodes a lookup's 2xx answer and tells whether it found
// anything to delete.
func (p *Plan) LookupAnswer(del Deletion, c DeleteChunk, body []byte) (any, bool, error) {
	var v any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, false, fmt.Errorf("the lookup's answer is not JSON (%v); an answer larger than limits.max_response_bytes is cut", err)
		}
	}
	if c.Action.LookupFound == nil {
		return v, true, nil
	}
	found, err := c.Action.LookupFound.Bool(p.deleteEnv(del, c, v))
	return v, found, err
}

// RenderDelete renders a chunk's delete request; lookup is the decoded
// answer of its lookup (nil without one).
func (p *Plan) RenderDelete(del Deletion, c DeleteChunk, lookup any) (*Outbound, error) {
	if c.Action == nil {
		return p.deleteEvent(del, c)
	}
	return p.renderDeleteAction(c.Action.Action, p.deleteEnv(del, c, lookup), del, c)
}

func (p *Plan) renderDeleteAction(a *mappings.Action, env *mappings.Env, del Deletion, c DeleteChunk) (*Outbound, error) {
	rendered, _, err := a.Render(env)
	if err != nil {
		return nil, err
	}
	one := rendered[0]
	h, body, err := headerAndBody(one, false)
	if err != nil {
		return nil, err
	}
	url := one.URL
	if url == "" && p.webhook != nil {
		url = p.webhook.url
	}
	if p.webhook != nil {
		h.Set("webhook-id", deleteMessageID(del, c))
	}
	return &Outbound{Action: a.Name, Key: c.Key, Req: &destinations.Request{
		Method: one.Method, URL: url, Header: h, Body: body, Items: 1, Action: a.Name, ValidJSON: body != nil,
	}}, nil
}

// deleteMessageID names one request of a deletion: stable across retries,
// so that a receiver can drop a repeat.
func deleteMessageID(del Deletion, c DeleteChunk) string {
	return "delete-" + del.Regulation + "-" + strings.ReplaceAll(c.Key, "#", "-")
}

// DeleteEvent is the body a webhook receives for one deleted user: a
// Segment-style event of type delete naming the user (DESIGN.md pins
// userId), with the regulation in context.
func DeleteEvent(del Deletion, c DeleteChunk) map[string]any {
	u := c.Users[0]
	at := del.At.UTC().Format(mappings.TimestampLayout)
	ev := map[string]any{
		"type":       "delete",
		"messageId":  deleteMessageID(del, c),
		"timestamp":  at,
		"receivedAt": at,
		"context":    map[string]any{"regulation": regulationMap(del)},
	}
	if u.UserID != "" {
		ev["userId"] = u.UserID
	}
	if u.AnonymousID != "" {
		ev["anonymousId"] = u.AnonymousID
	}
	if u.Email != "" {
		ev["context"].(map[string]any)["traits"] = map[string]any{"email": u.Email}
	}
	return ev
}

func (p *Plan) deleteEvent(del Deletion, c DeleteChunk) (*Outbound, error) {
	body, err := encodeJSON(DeleteEvent(del, c))
	if err != nil {
		return nil, err
	}
	h := p.baseHeader()
	h.Set("webhook-id", deleteMessageID(del, c))
	return &Outbound{Action: "delete", Key: c.Key, Req: &destinations.Request{
		Method: http.MethodPost, URL: p.webhook.url, Header: h, Body: body, Items: 1, Action: "delete", ValidJSON: true,
	}}, nil
}

func regulationMap(del Deletion) map[string]any {
	m := map[string]any{"id": del.Regulation, "type": del.Type}
	if del.Reason != "" {
		m["reason"] = del.Reason
	}
	return m
}

// deleteEnv is the environment of a delete action's expressions: users,
// regulation and settings, the lookup's answer, and for a request naming
// one user that user as an event's userId, anonymousId and email().
func (p *Plan) deleteEnv(del Deletion, c DeleteChunk, lookup any) *mappings.Env {
	users := make([]any, len(c.Users))
	for i, u := range c.Users {
		m := map[string]any{}
		if u.UserID != "" {
			m["userId"] = u.UserID
		}
		if u.AnonymousID != "" {
			m["anonymousId"] = u.AnonymousID
		}
		if u.Email != "" {
			m["email"] = u.Email
		}
		users[i] = m
	}
	ev := &mappings.Event{Type: "delete", MessageID: deleteMessageID(del, c), Timestamp: del.At, ReceivedAt: del.At}
	ev.Raw = map[string]any{"type": "delete", "messageId": ev.MessageID}
	if len(c.Users) == 1 {
		u := c.Users[0]
		ev.UserID, ev.AnonymousID = u.UserID, u.AnonymousID
		if u.Email != "" {
			// Where email() reads it on a call other than identify.
			ev.Traits = map[string]any{"email": u.Email}
			ev.Context = map[string]any{"traits": ev.Traits}
			ev.Raw["context"] = ev.Context
		}
	}
	env := mappings.NewEnv(ev, "", p.Settings)
	env.Users, env.Regulation, env.Lookup = users, regulationMap(del), lookup
	return env
}

// deleteActions compiles the destination's delete actions: the catalog's
// with the file's overrides, and the file's own (kind: delete).
func (pb *planBuilder) deleteActions() {
	p, d := pb.p, pb.d
	var base destinations.RequestDef
	if p.Def != nil {
		base = p.Def.Request
		for _, da := range p.Def.Deletion.Actions {
			over, has := d.Actions[da.Name]
			if has && over.Enabled != nil && !*over.Enabled {
				continue
			}
			spec := mappings.ActionSpec{
				Name: da.Name, Trigger: da.Trigger,
				Method: da.Request.Method, URL: da.Request.URL,
				Headers: mergeHeaders(base.Headers, da.Request.Headers), Fields: da.Fields,
			}
			if spec.Method == "" {
				spec.Method = base.Method
			}
			if spec.URL == "" {
				spec.URL = base.URL
			}
			n := da.UsersPerRequest
			if has {
				applyOverride(&spec, over)
				if over.UsersPerRequest > 0 {
					// Fewer users per request than the tool takes, never more.
					n = min(over.UsersPerRequest, max(n, 1))
				}
			}
			pb.addDelete("actions."+da.Name+".", spec, da.Name, n, da.Lookup, da.Absent)
		}
	}
	if p.webhook != nil {
		base = destinations.RequestDef{URL: p.webhook.url, Headers: p.webhook.headers}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Actions)) {
		a := d.Actions[name]
		if a.Kind != "delete" || (a.Enabled != nil && !*a.Enabled) {
			continue
		}
		if p.Def != nil {
			if _, isCatalog := p.Def.DeleteAction(name); isCatalog {
				continue // an override, compiled above
			}
		}
		spec := mappings.ActionSpec{Name: name, Trigger: a.Trigger, Method: a.Method, URL: a.URL, Headers: mergeHeaders(base.Headers, a.Headers), Fields: a.Fields}
		if spec.URL == "" {
			spec.URL = base.URL
		}
		if spec.URL == "" {
			pb.errAt("actions."+name+".url", "delete action %s needs a url", name)
			continue
		}
		pb.addDelete("actions."+name+".", spec, "", a.UsersPerRequest, nil, nil)
	}
	if len(p.Deletes) > 0 {
		return
	}
	switch {
	case p.webhook != nil:
		p.deleteForward = true
	case p.Def != nil && p.Def.Deletion.Unsupported != "":
		p.deleteUnsupported = p.Def.Deletion.Unsupported
	case p.Def != nil:
		p.deleteUnsupported = "every delete action of " + p.Def.Name + " is disabled in this destination's file"
	default:
		p.deleteUnsupported = "an http destination deletes users only through an action it declares with kind: delete (docs/privacy.md#delete-actions)"
	}
}

func (pb *planBuilder) addDelete(prefix string, spec mappings.ActionSpec, preset string, perRequest int, lookup *destinations.LookupDef, absent []int) {
	if perRequest > config.MaxRegulationUsers {
		perRequest = config.MaxRegulationUsers
	}
	a, err := pb.b.Compiler.Action(spec)
	if err != nil {
		pb.exprErr(prefix, err)
		return
	}
	da := &DeleteAction{Action: a, Preset: preset, UsersPerRequest: max(perRequest, 1), Absent: absent}
	if lookup != nil {
		base := destinations.RequestDef{}
		if pb.p.Def != nil {
			base = pb.p.Def.Request
		}
		ls := mappings.ActionSpec{
			Name: spec.Name + "_lookup", Trigger: lookup.When,
			Method: lookup.Request.Method, URL: lookup.Request.URL,
			Headers: mergeHeaders(base.Headers, lookup.Request.Headers), Fields: lookup.Fields,
		}
		if ls.Method == "" {
			ls.Method = http.MethodGet
		}
		if da.Lookup, err = pb.b.Compiler.Action(ls); err != nil {
			pb.exprErr(prefix+"lookup.", err)
			return
		}
		if strings.TrimSpace(lookup.Found) != "" {
			if da.LookupFound, err = pb.b.Compiler.Bool("found", lookup.Found); err != nil {
				pb.exprErr(prefix+"lookup.", err)
				return
			}
		}
		da.LookupAbsent = lookup.Absent
	}
	pb.p.Deletes = append(pb.p.Deletes, da)
}
