package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Event types of the Segment spec.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// EventTypes lists the six Segment call types in spec order.
var EventTypes = []string{TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias}

// Limits bound what Decode accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes is the largest event accepted. Segment's own limit is 32 KB.
	MaxBytes int
	// MaxDepth is the deepest JSON nesting accepted (objects and arrays).
	MaxDepth int
	// MaxProperties bounds the number of keys in any one object, and the
	// number of elements in any one array.
	MaxProperties int
}

// DefaultLimits are Segment's documented per-event limit and generous
// structural bounds that no real SDK reaches.
var DefaultLimits = Limits{MaxBytes: 32 << 10, MaxDepth: 32, MaxProperties: 1000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxProperties <= 0 {
		l.MaxProperties = DefaultLimits.MaxProperties
	}
	return l
}

// InvalidError says why an event was refused, naming the field at fault.
type InvalidError struct {
	MessageID string // empty when the event has none
	Field     string // JSON field at fault, empty for whole-event errors
	Reason    string
}

func (e *InvalidError) Error() string {
	where := ""
	if e.MessageID != "" {
		where = "event " + e.MessageID + ": "
	}
	if e.Field != "" {
		return where + "field " + e.Field + ": " + e.Reason
	}
	return where + e.Reason
}

// IsInvalid reports whether err is (or wraps) an *InvalidError.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// Event is a decoded, validated Segment event.
type Event struct {
	// Raw is the event as decoded, every field the sender set.
	Raw map[string]any

	Type        string
	MessageID   string
	UserID      string // "" when absent
	AnonymousID string // "" when absent
	// Timestamp is when the event happened, corrected for client clock skew
	// where sentAt and receivedAt allow (see CorrectTimestamp).
	Timestamp time.Time
	// ReceivedAt is when the platform received the event: its own
	// receivedAt when it carries one, else the time Decode was given (the
	// stream time).
	ReceivedAt time.Time

	Traits       map[string]any // identify and group: traits; others: context.traits
	Properties   map[string]any // track, page, screen
	Context      map[string]any
	Integrations map[string]any

	memo memo // what is derived from the event alone (memo.go)
	// top is what Env.Reset reads of Raw, as fromTop found it (env.go).
	top envTop
	// projection names the top-level members Raw holds when the event was
	// decoded in part (DecodeProjected); nil when whole.
	projection *Projection
	// utf8Len is the length of the bytes the event was decoded from when
	// the single pass read them, which checks that every byte is UTF-8;
	// 0 when the exact path did (it reads invalid bytes as U+FFFD).
	utf8Len int
}

// WithRaw returns a new event that is e with its fields replaced by raw
// (a destination filter's view of it): Context, Properties and Traits are
// read from raw again, and nothing derived from e (its memo, the members
// fromTop noted for Env.Reset) carries over, since products() of the
// original may hold what raw left out. e itself is unchanged.
func (e *Event) WithRaw(raw map[string]any) *Event {
	out := &Event{
		Raw:          raw,
		Type:         e.Type,
		MessageID:    e.MessageID,
		UserID:       e.UserID,
		AnonymousID:  e.AnonymousID,
		Timestamp:    e.Timestamp,
		ReceivedAt:   e.ReceivedAt,
		Integrations: e.Integrations,
		projection:   e.projection,
	}
	out.Context, _ = raw["context"].(map[string]any)
	out.Properties, _ = raw["properties"].(map[string]any)
	switch e.Type {
	case TypeIdentify, TypeGroup:
		out.Traits, _ = raw["traits"].(map[string]any)
	default:
		out.Traits, _ = out.Context["traits"].(map[string]any)
	}
	return out
}

// Name returns the track event name ("" for other types).
func (e *Event) Name() string {
	s, _ := e.Raw["event"].(string)
	return s
}

// Decode parses and validates one Segment event. receivedAt is the time the
// platform received the event (the stream time); it is used when the event
// carries no receivedAt of its own. Every error is an *InvalidError.
func Decode(data []byte, receivedAt time.Time, lim Limits) (*Event, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, &InvalidError{Reason: fmt.Sprintf("event is %d bytes, over the %d byte limit", len(data), lim.MaxBytes)}
	}
	var top eventTop
	raw, single, err := decodeEither(data, lim, &top)
	if err != nil {
		return nil, err
	}
	e, err := fromTop(raw, &top, receivedAt)
	if err == nil && single {
		e.utf8Len = len(data)
	}
	return e, err
}

// ValidUTF8 reports whether data, the bytes e was decoded from, is known
// to be valid UTF-8 without reading it again: the single pass checked
// every byte (every byte outside a string is JSON's ASCII). It is false
// when the exact path decoded the event, and for bytes of another length
// than e's.
func (e *Event) ValidUTF8(data []byte) bool {
	return e.utf8Len > 0 && e.utf8Len == len(data)
}

// decodeRaw decodes an event's JSON: in one pass when parseEvent takes
// it, else (a refused event, or one parseEvent leaves to it) with the
// exact path, which says why.
func decodeRaw(data []byte, lim Limits) (map[string]any, error) {
	raw, _, err := decodeEither(data, lim, nil)
	return raw, err
}

// decodeEither is decodeRaw saying whether the single pass took the
// event (and so checked that all of data is UTF-8), and filling in top,
// when it is not nil, with the members FromMap reads.
func decodeEither(data []byte, lim Limits, top *eventTop) (raw map[string]any, single bool, err error) {
	if raw, ok := parseEvent(data, lim, nil, top); ok {
		return raw, true, nil
	}
	raw, err = decodeExact(data, lim)
	if err == nil && top != nil {
		*top = topOf(raw)
	}
	return raw, false, err
}

// FromMap validates an already-decoded event. It keeps raw as Event.Raw.
func FromMap(raw map[string]any, receivedAt time.Time) (*Event, error) {
	top := topOf(raw)
	return fromTop(raw, &top, receivedAt)
}

// fromTop is FromMap given the values of raw's members that it reads
// (top.go): the single pass noted them as it built raw.
func fromTop(raw map[string]any, top *eventTop, receivedAt time.Time) (*Event, error) {
	e := top.into
	if e == nil {
		e = new(Event)
	}
	e.Raw = raw
	id, idErr := MessageID(top.messageID)
	var ok bool
	if e.Type, ok = top.typ.(string); !ok {
		return nil, &InvalidError{MessageID: id, Field: "type", Reason: "missing or not a string"}
	}
	if idErr != nil {
		return nil, idErr
	}
	if e.MessageID = id; id == "" {
		return nil, &InvalidError{Field: "messageId", Reason: "missing: every event needs a messageId (it is the dedupe key)"}
	}
	bad := func(field, reason string) error {
		return &InvalidError{MessageID: e.MessageID, Field: field, Reason: reason}
	}
	switch e.Type {
	case TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias:
	default:
		return nil, bad("type", fmt.Sprintf("unknown type %q (want identify, track, page, screen, group or alias)", e.Type))
	}
	// The identifiers each call of the spec defines, bounded alike here
	// whichever path the event came by (see ids.go).
	var groupID, previousID string
	var ie *InvalidError
	e.UserID, ie = identifier(raw, "userId", top.userID)
	if ie == nil {
		e.AnonymousID, ie = identifier(raw, "anonymousId", top.anonymousID)
	}
	if ie == nil && e.Type == TypeGroup {
		groupID, ie = identifier(raw, "groupId", top.groupID)
	}
	if ie == nil && e.Type == TypeAlias {
		previousID, ie = identifier(raw, "previousId", top.previousID)
	}
	if ie != nil {
		ie.MessageID = e.MessageID
		return nil, ie
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return nil, bad("userId", "neither userId nor anonymousId is set")
	}
	switch e.Type {
	case TypeTrack:
		name, isStr := top.event.(string)
		switch {
		case top.event != nil && !isStr:
			return nil, bad("event", fmt.Sprintf("must be a string, got %s", jsonKind(top.event)))
		case name == "":
			return nil, bad("event", "a track call needs a non-empty event name")
		case len(name) > MaxEventNameBytes:
			return nil, bad("event", fmt.Sprintf("is %d bytes, over the %d byte limit", len(name), MaxEventNameBytes))
		}
	case TypeGroup:
		if groupID == "" {
			return nil, bad("groupId", "a group call needs a groupId")
		}
	case TypeAlias:
		if previousID == "" {
			return nil, bad("previousId", "an alias call needs a previousId")
		}
	}
	// Each of these must be an object when present; the first that is
	// not is the reason.
	var objErr error
	object := func(field string, v any) map[string]any {
		m, isObj := v.(map[string]any)
		if !isObj && v != nil && objErr == nil {
			objErr = bad(field, "must be an object")
		}
		return m
	}
	traits := object("traits", top.traits)
	e.Properties = object("properties", top.properties)
	e.Context = object("context", top.context)
	e.Integrations = object("integrations", top.integrations)
	if objErr != nil {
		return nil, objErr
	}
	switch e.Type {
	case TypeIdentify, TypeGroup:
		e.Traits = traits
	default:
		e.Traits, _ = e.Context["traits"].(map[string]any)
	}
	ts, err := correctTimestamp(top, receivedAt)
	if err != nil {
		return nil, &InvalidError{MessageID: e.MessageID, Field: err.field, Reason: err.reason}
	}
	e.Timestamp = ts
	e.ReceivedAt = receivedAt.UTC()
	if t, ok := ParseTime(top.receivedAt); ok {
		e.ReceivedAt = t.UTC()
	}
	e.top = envTop{
		event: top.event, userID: top.userID, anonymousID: top.anonymousID, traits: top.traits,
		groupID: top.groupID, previousID: top.previousID,
		sentAt: top.sentAt, receivedAt: top.receivedAt, originalTimestamp: top.originalTimestamp,
		noted: true,
	}
	return e, nil
}

// idString returns an identifier as a string: strings as they are, numbers
// in their shortest decimal form. Anything else counts as absent.
func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return x.String()
	}
	return ""
}
