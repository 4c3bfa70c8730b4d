// Package regulations keeps the privacy regulations of switchyard in
// JetStream: suppressions (a user's events no longer delivered) and
// deletions (each tool asked to erase a user), in the REGULATIONS key-value
// bucket, so that every router of a cluster sees them and a restart keeps
// them, and deletion tasks in the REGULATION_TASKS work queue, taken by
// one router at a time. Index is the in-memory view of the suppressions a
// router consults while routing (it implements plan.Regulations); Store
// records regulations and their status per destination. The router runs
// the deletions (router/deletions.go); see docs/privacy.md.
package regulations

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// Type is what a regulation asks.
type Type string

// Regulation types, as Segment's Regulations API names them.
const (
	Suppress           Type = "suppress"
	Unsuppress         Type = "unsuppress"
	Delete             Type = "delete"
	SuppressWithDelete Type = "suppress_with_delete"
)

// Types lists the regulation types.
var Types = []Type{Suppress, Unsuppress, Delete, SuppressWithDelete}

// Suppresses reports whether the type changes suppressions.
func (t Type) Suppresses() bool { return t == Suppress || t == Unsuppress || t == SuppressWithDelete }

// Deletes reports whether the type asks the tools to erase.
func (t Type) Deletes() bool { return t == Delete || t == SuppressWithDelete }

// Regulation is one request about a set of users.
type Regulation struct {
	ID   string `json:"id"`
	Type Type   `json:"type"`
	// Users are the users named, by userId and optionally anonymousId (and
	// an email for the tools that key people by it).
	Users []plan.User `json:"users"`
	// Destinations is the scope; empty: every destination.
	Destinations []string `json:"destinations,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	// RequestedBy says who asked (the CLI's user@host, or what the admin
	// API was told).
	RequestedBy string    `json:"requestedBy"`
	CreatedAt   time.Time `json:"createdAt"`
	// Applied is when its suppressions were all recorded (suppress types).
	Applied *time.Time `json:"applied,omitempty"`
	// Scope names the destinations its deletions went to, set at
	// submission (delete types): the report reads their statuses by name.
	// Listing the status keys instead could miss one that a deleter was
	// rewriting at that moment.
	Scope []string `json:"scope,omitempty"`
}

// Bounds of a regulation, checked before anything is stored.
const (
	// MaxUsers is Segment's bound on the subject ids of one call.
	MaxUsers = config.MaxRegulationUsers
	// MaxEmailBytes is RFC 5321's bound on an address.
	MaxEmailBytes = 254
	// MaxReasonBytes bounds the reason.
	MaxReasonBytes = 1024
	// MaxRecordBytes bounds the stored record: below the 1 MB a NATS
	// message may hold by default.
	MaxRecordBytes = 900 << 10
)

// ErrRefused wraps the problems of a regulation that is not recorded.
var ErrRefused = errors.New("regulation refused")

// Check reports every problem of a regulation as submitted.
func (r *Regulation) Check() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	known := false
	for _, t := range Types {
		known = known || t == r.Type
	}
	if !known {
		add("type %q: want suppress, unsuppress, delete or suppress_with_delete", r.Type)
	}
	switch {
	case len(r.Users) == 0:
		add("no user: name at least one by userId (or anonymousId)")
	case len(r.Users) > MaxUsers:
		add("%d users: at most %d per regulation (split the list)", len(r.Users), MaxUsers)
	}
	for i, u := range r.Users {
		if i >= 20 && len(probs) >= 20 {
			add("(and more)")
			break
		}
		where := fmt.Sprintf("users[%d]", i)
		if u.UserID == "" && u.AnonymousID == "" {
			add("%s: neither userId nor anonymousId", where)
		}
		for _, f := range []struct{ name, v string }{{"userId", u.UserID}, {"anonymousId", u.AnonymousID}} {
			if len(f.v) > mappings.MaxIDBytes {
				add("%s: %s is %d bytes, over the %d byte limit of ids", where, f.name, len(f.v), mappings.MaxIDBytes)
			}
			if !utf8.ValidString(f.v) || strings.TrimSpace(f.v) != f.v {
				add("%s: %s %q: not valid text, or with leading or trailing space", where, f.name, f.v)
			}
		}
		if u.Email != "" && (len(u.Email) > MaxEmailBytes || !strings.Contains(u.Email, "@")) {
			add("%s: email %q is not an address", where, u.Email)
		}
	}
	for i, d := range r.Destinations {
		if !config.NamePattern.MatchString(d) {
			add("destinations[%d]: %q is not a destination name", i, d)
		}
	}
	if len(r.Reason) > MaxReasonBytes {
		add("reason is %d bytes, over %d", len(r.Reason), MaxReasonBytes)
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrRefused, strings.Join(probs, "; "))
	}
	return nil
}

// NewID returns a regulation id: the time in base 36 (so that ids sort by
// time) and 8 random hex digits. It is a valid key and subject token.
func NewID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	t := strconv.FormatInt(now.UnixMilli(), 36)
	return "rg-" + strings.Repeat("0", max(0, 9-len(t))) + t + "-" + hex.EncodeToString(b[:])
}

// State is a regulation's status at one destination, or overall.
type State string

// Per destination: pending, running, finished, failed or not_supported.
// Overall: finished, partial or failed once every destination is done,
// pending or running until then.
const (
	Pending      State = "pending"
	Running      State = "running"
	Finished     State = "finished"
	Failed       State = "failed"
	NotSupported State = "not_supported"
	Partial      State = "partial"
)

// Done reports whether the state is final.
func (s State) Done() bool { return s == Finished || s == Failed || s == NotSupported }

// DestStatus is a deletion's status at one destination.
type DestStatus struct {
	Destination string `json:"destination"`
	State       State  `json:"state"`
	// Detail says what happened: why it failed or is not supported, or
	// what the tool holds nothing of.
	Detail string `json:"detail,omitempty"`
	// Status and Answer are the tool's last answer: its HTTP status and
	// the start of its body (redacted).
	Status   int    `json:"status,omitempty"`
	Answer   string `json:"answer,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// Done lists the requests (action#i) that finished: a retry sends only
	// the others.
	Done      []string  `json:"done,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Overall is a regulation's status from its destinations': finished when
// every destination finished (or cannot delete: those are listed), failed
// when every one that can delete failed, partial when some failed and some
// finished; running or pending while any is not done. A regulation
// without deletions (suppress, unsuppress) is finished once recorded.
func Overall(r *Regulation, ds []DestStatus) State {
	if !r.Type.Deletes() {
		if r.Type.Suppresses() && r.Applied == nil {
			return Pending
		}
		return Finished
	}
	var finished, failed, done, started int
	for _, d := range ds {
		switch d.State {
		case Finished:
			finished++
			done++
		case Failed:
			failed++
			done++
		case NotSupported:
			done++
		case Running:
			started++
		}
	}
	switch {
	case done < len(ds) && started+finished+failed > 0:
		return Running
	case done < len(ds):
		return Pending
	case failed == 0:
		return Finished
	case finished == 0:
		return Failed
	}
	return Partial
}

// Report is a regulation with its status, as `regulate status` and the
// admin API show it.
type Report struct {
	Regulation
	Status       State        `json:"status"`
	Deletions    []DestStatus `json:"deletions,omitempty"`
	NotSupported []string     `json:"notSupported,omitempty"`
}

// NewReport joins a regulation and its destinations' status.
func NewReport(r *Regulation, ds []DestStatus) Report {
	sort.Slice(ds, func(i, j int) bool { return ds[i].Destination < ds[j].Destination })
	rep := Report{Regulation: *r, Status: Overall(r, ds), Deletions: ds}
	for _, d := range ds {
		if d.State == NotSupported {
			rep.NotSupported = append(rep.NotSupported, d.Destination)
		}
	}
	return rep
}

// ScopeOf resolves a regulation's scope against the destinations of a
// config: every destination when it names none, else those it names
// (each must exist). A deletion records each one's status, not_supported
// with the reason for those that cannot delete.
func ScopeOf(r *Regulation, plans map[string]*plan.Plan) ([]Scope, error) {
	names := r.Destinations
	if len(names) == 0 {
		for n := range plans {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var unknown []string
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		p, ok := plans[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, Scope{Destination: n, Unsupported: p.DeleteUnsupported()})
	}
	if len(unknown) > 0 {
		known := make([]string, 0, len(plans))
		for n := range plans {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("%w: no destination %s (known: %s)", ErrRefused, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}
