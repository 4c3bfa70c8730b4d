package mappings

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Decoding only what a destination reads. A webhook forwarding events as
// they came sends the event's own bytes: of its decoded form it reads the
// identifiers, the times, the integrations object and, with consent
// categories, the context, but never properties or traits, which are most
// of an event's values (a 1.3 KB Order Completed holds five products).
// DecodeProjected builds only the top-level members a Projection names;
// it reads through the others, checking them as Decode does, without
// building their maps, lists and strings.
//
// The event it accepts is exactly the one Decode accepts, and every
// member it builds has the value Decode gives it (FuzzDecodeProjected
// holds it to that): a skipped member is checked against the same limits
// (depth, members per object, numbers float64 can hold) with the same
// code, and a top-level traits, properties, context or integrations must
// be an object or null as FromMap requires. Anything the single pass
// would leave to the exact path (invalid UTF-8, a refused event) goes to
// the full Decode, whose event is a superset and whose reasons are the
// same.

// Projection names the top-level members of an event that its reader
// needs decoded. The members FromMap validates and the times it corrects
// are always in it. A nil *Projection is the whole event.
type Projection struct {
	keys []string // sorted, for String
	set  map[string]bool
	// extra are the keys that are not eventMembers, which has looks
	// for one by one while they are few (a map look-up per top-level
	// member was 7% of a projected decode).
	extra []string
}

// eventMembers are the top-level members FromMap and CorrectTimestamp
// read: every projection keeps them, so that a projected event is
// validated, identified and timed as a whole one.
var eventMembers = []string{
	"type", "messageId", "userId", "anonymousId", "groupId", "previousId", "event",
	"timestamp", "originalTimestamp", "sentAt", "receivedAt",
}

// isEventMember reports whether k is one of eventMembers (a switch, which
// the compiler turns into a few comparisons of the length and the bytes).
func isEventMember(k string) bool {
	switch k {
	case "type", "messageId", "userId", "anonymousId", "groupId", "previousId", "event",
		"timestamp", "originalTimestamp", "sentAt", "receivedAt":
		return true
	}
	return false
}

// isObjectMember reports whether k is one of the top-level members FromMap
// requires to be objects (or null) when present: a skipped one is checked
// for that.
func isObjectMember(k string) bool {
	switch k {
	case "traits", "properties", "context", "integrations":
		return true
	}
	return false
}

// fewExtra is the most keys beyond eventMembers that has reads one by
// one; a projection keeping more looks them up in its set.
const fewExtra = 4

// Project returns the projection keeping keys and the members every event
// needs (eventMembers).
func Project(keys ...string) *Projection {
	p := &Projection{set: map[string]bool{}}
	for _, k := range slices.Concat(eventMembers, keys) {
		if !p.set[k] {
			p.set[k] = true
			p.keys = append(p.keys, k)
			if !isEventMember(k) {
				p.extra = append(p.extra, k)
			}
		}
	}
	slices.Sort(p.keys)
	return p
}

// has is p.set[k], read without hashing k for the common projections.
func (p *Projection) has(k string) bool {
	if isEventMember(k) {
		return true
	}
	if len(p.extra) > fewExtra {
		return p.set[k]
	}
	for _, x := range p.extra {
		if x == k {
			return true
		}
	}
	return false
}

// Keeps reports whether the projection decodes the top-level member k.
func (p *Projection) Keeps(k string) bool { return p == nil || p.set[k] }

// Covers reports whether an event decoded with p holds every member q
// keeps: always for a whole event (nil p), never for a part when q is
// the whole.
func (p *Projection) Covers(q *Projection) bool {
	switch {
	case p == nil || p == q:
		return true
	case q == nil:
		return false
	}
	for _, k := range q.keys {
		if !p.set[k] {
			return false
		}
	}
	return true
}

// String lists the members kept, for logs and the plan's explanation.
func (p *Projection) String() string {
	if p == nil {
		return "the whole event"
	}
	return strings.Join(p.keys, ", ")
}

// DecodeProjected is Decode building only the top-level members keep
// names (all of them for a nil keep). It accepts and refuses exactly
// the events Decode does, with the same reasons; the event it returns
// says which members it holds (Event.Projection).
func DecodeProjected(data []byte, receivedAt time.Time, lim Limits, keep *Projection) (*Event, error) {
	if keep == nil {
		return Decode(data, receivedAt, lim)
	}
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, &InvalidError{Reason: fmt.Sprintf("event is %d bytes, over the %d byte limit", len(data), lim.MaxBytes)}
	}
	var top eventTop
	raw, ok := parseEvent(data, lim, keep, &top)
	if !ok {
		// Refused, or left to the exact path: the whole event, or the
		// whole reason.
		return Decode(data, receivedAt, lim)
	}
	e, err := fromTop(raw, &top, receivedAt)
	if err != nil {
		return nil, err
	}
	e.projection, e.utf8Len = keep, len(data)
	return e, nil
}

// Projection is what the event holds: nil when it was decoded whole.
func (e *Event) Projection() *Projection { return e.projection }

// skipMember reads through the value of the top-level member k, which
// the projection leaves out.
func (p *eventParser) skipMember(k string) bool {
	if isObjectMember(k) && p.i < len(p.s) && p.s[p.i] != '{' && p.s[p.i] != 'n' {
		return false // not an object: FromMap refuses it, with its reason
	}
	return p.skip()
}

// skip reads through one value as value would read it, accepting what it
// accepts, building nothing (an escaped string is unescaped to be
// checked, as value does).
func (p *eventParser) skip() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, j, ok := p.str(p.i)
		p.i = j
		return ok
	case c == '{':
		return p.skipContainer('}', true)
	case c == '[':
		return p.skipContainer(']', false)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

// skipContainer reads through an object (keyed) or an array, under the
// limits object and array enforce.
func (p *eventParser) skipContainer(end byte, keyed bool) bool {
	if !p.enter() {
		return false
	}
	// The cursor is the local i between the values read here, as in
	// object, and a string value is read through here, not by skip.
	s := p.s
	i := space(s, p.i)
	if uint(i) < uint(len(s)) && s[i] == end {
		p.i = i + 1
		p.depth--
		return true
	}
	for n := 1; ; n++ {
		if n > p.lim.MaxProperties {
			return false
		}
		if keyed {
			if uint(i) >= uint(len(s)) || s[i] != '"' {
				return false
			}
			_, j, ok := p.str(i)
			if !ok {
				return false
			}
			if i = space(s, j); uint(i) >= uint(len(s)) || s[i] != ':' {
				return false
			}
			i = space(s, i+1)
		}
		if uint(i) < uint(len(s)) && s[i] == '"' {
			_, j, ok := p.str(i)
			if !ok {
				return false
			}
			i = j
		} else {
			p.i = i
			if !p.skip() {
				return false
			}
			i = p.i
		}
		if i = space(s, i); uint(i) >= uint(len(s)) {
			return false
		}
		switch s[i] {
		case ',':
			i = space(s, i+1)
			continue
		case end:
			p.i = i + 1
			p.depth--
			return true
		}
		return false
	}
}

// skipNumber reads through a number, refusing what number refuses (one
// float64 cannot hold). An integer of up to 18 digits always fits, and a
// number without an exponent whose integer part has at most 308 digits
// is below float64's largest: only the rest is parsed to be sure.
func (p *eventParser) skipNumber() bool {
	n, ok := p.scanNumber()
	switch {
	case !ok:
		return false
	case n.integer() && len(n.digits) <= 18, !n.exp && len(n.digits) <= 308:
		return true
	}
	p.i -= len(n.tok)
	_, ok = p.number()
	return ok
}
