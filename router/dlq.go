package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/router/plan"
)

// DLQ entry headers. The entry's data is the original event, byte for byte.
const (
	HeaderReason       = "Switchyard-Reason"
	HeaderStatus       = "Switchyard-Status"
	HeaderAttempts     = "Switchyard-Attempts"
	HeaderFirstAttempt = "Switchyard-First-Attempt"
	HeaderFailedAt     = "Switchyard-Failed-At"
	HeaderAction       = "Switchyard-Action"
	HeaderResponse     = "Switchyard-Response"
	HeaderDestination  = "Switchyard-Destination"
	HeaderSubject      = "Switchyard-Subject"
	HeaderStreamSeq    = "Switchyard-Stream-Seq"
	HeaderMessageID    = "Switchyard-Message-Id"
	// HeaderDestinations lists, on a shared entry (an invalid event), every
	// destination it failed for.
	HeaderDestinations = "Switchyard-Destinations"
)

// DLQSubject is where a destination's dead letters go.
func DLQSubject(dest string) string { return "dlq." + dest }

// InvalidSubject holds invalid events, once each: an event that is not a
// valid Segment event is invalid for every destination that reads it, so
// it is stored once, naming them (HeaderDestinations), not once per
// destination. Destination names start with a letter or digit, so it can
// be no destination's subject.
const InvalidSubject = "dlq._invalid"

// DeadLetter is one entry of the DLQ stream.
type DeadLetter struct {
	Destination  string
	Subject      string // the event's original subject
	Data         []byte // the original event
	MessageID    string
	Reason       string
	Status       int
	Attempts     int
	FirstAttempt time.Time
	FailedAt     time.Time
	// Actions that failed; empty when the whole event failed (invalid).
	Actions   []string
	Response  []byte
	StreamSeq uint64
	// Shared entries (invalid events) are stored once under InvalidSubject
	// for every destination in Destinations.
	Shared       bool
	Destinations []string
	// rewritten: a shared entry written again with fewer destinations; it
	// takes no dedupe id (the original's would drop it).
	rewritten bool
}

// For reports whether the entry belongs to destination dest.
func (dl *DeadLetter) For(dest string) bool {
	if !dl.Shared {
		return dl.Destination == dest
	}
	for _, d := range dl.Destinations {
		if d == dest {
			return true
		}
	}
	return false
}

// DefaultDLQHeaderBytes bounds each DLQ header value when
// limits.max_dlq_header_bytes is not set.
const DefaultDLQHeaderBytes = 1024

// headerValue makes a value safe for a NATS header and bounds it (0: the
// default bound), cutting at a character boundary.
func headerValue(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if max <= 0 {
		max = DefaultDLQHeaderBytes
	}
	if len(s) > max {
		for max > 0 && !utf8.RuneStart(s[max]) {
			max--
		}
		s = s[:max]
	}
	return s
}

// Msg builds the NATS message, redacting every header.
func (dl *DeadLetter) Msg(r *plan.Redactor, maxHeader int) *nats.Msg {
	subject := DLQSubject(dl.Destination)
	if dl.Shared {
		subject = InvalidSubject
	}
	m := nats.NewMsg(subject)
	m.Data = dl.Data
	set := func(k, v string) {
		if v != "" {
			m.Header.Set(k, headerValue(r.String(v), maxHeader))
		}
	}
	set(HeaderReason, dl.Reason)
	set(HeaderStatus, strconv.Itoa(dl.Status))
	// Attempts are the HTTP attempts made: 0 when nothing was sent (the
	// breaker was open, or the event failed before a request).
	set(HeaderAttempts, strconv.Itoa(dl.Attempts))
	if !dl.FirstAttempt.IsZero() {
		set(HeaderFirstAttempt, dl.FirstAttempt.UTC().Format(time.RFC3339Nano))
	}
	set(HeaderFailedAt, dl.FailedAt.UTC().Format(time.RFC3339Nano))
	set(HeaderAction, strings.Join(dl.Actions, ","))
	if len(dl.Response) > 0 {
		// The excerpt was cut by the sender: a secret cut there goes too.
		m.Header.Set(HeaderResponse, headerValue(r.Excerpt(string(dl.Response)), maxHeader))
	}
	set(HeaderDestination, dl.Destination)
	set(HeaderSubject, dl.Subject)
	set(HeaderMessageID, dl.MessageID)
	if dl.Shared {
		set(HeaderDestinations, strings.Join(dl.Destinations, ","))
	}
	if dl.StreamSeq > 0 {
		set(HeaderStreamSeq, strconv.FormatUint(dl.StreamSeq, 10))
	}
	if dl.StreamSeq > 0 && !dl.rewritten {
		// A crash between this publish and the ack redelivers the event:
		// the dedupe window keeps the DLQ from holding it twice. A shared
		// entry has one id whichever destination writes it, so the lanes of
		// every router reading the event write it once.
		id := fmt.Sprintf("%s:%d", dl.Destination, dl.StreamSeq)
		if dl.Shared {
			id = fmt.Sprintf("invalid:%d", dl.StreamSeq)
		}
		m.Header.Set(jetstream.MsgIDHeader, id)
	}
	return m
}

// ParseDeadLetter reads a DLQ entry.
func ParseDeadLetter(m jetstream.Msg) (*DeadLetter, error) {
	return deadLetterFrom(m.Headers(), m.Data(), m.Subject()), nil
}

// parseRawDeadLetter reads a DLQ entry fetched by sequence.
func parseRawDeadLetter(m *jetstream.RawStreamMsg) *DeadLetter {
	return deadLetterFrom(m.Header, m.Data, m.Subject)
}

func deadLetterFrom(h nats.Header, data []byte, subject string) *DeadLetter {
	dl := &DeadLetter{
		Destination: h.Get(HeaderDestination), Subject: h.Get(HeaderSubject), Data: data,
		MessageID: h.Get(HeaderMessageID), Reason: h.Get(HeaderReason), Response: []byte(h.Get(HeaderResponse)),
	}
	dl.Status, _ = strconv.Atoi(h.Get(HeaderStatus))
	dl.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	dl.FirstAttempt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFirstAttempt))
	dl.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	dl.StreamSeq, _ = strconv.ParseUint(h.Get(HeaderStreamSeq), 10, 64)
	if a := h.Get(HeaderAction); a != "" {
		dl.Actions = strings.Split(a, ",")
	}
	if subject == InvalidSubject {
		dl.Shared = true
		if d := h.Get(HeaderDestinations); d != "" {
			dl.Destinations = strings.Split(d, ",")
		}
	}
	if dl.Destination == "" && !dl.Shared {
		dl.Destination = strings.TrimPrefix(subject, "dlq.")
	}
	return dl
}

// PublishDeadLetter writes an entry, redacted with r and each header
// bounded to maxHeader bytes (0: the default), and waits for JetStream's
// ack, at most 10 s. It is the one way a dead letter is written: by the
// lanes, and by the replays when an event fails again.
func PublishDeadLetter(ctx context.Context, js jetstream.Publisher, dl *DeadLetter, r *plan.Redactor, maxHeader int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.PublishMsg(ctx, dl.Msg(r, maxHeader))
	return err
}

// DeadLetterAgain builds the DLQ entry for an event that failed again on
// replay: the same event, the new reason, a new entry (not a redelivery of
// the old one, so no dedupe id).
func DeadLetterAgain(old *DeadLetter, reason string, status int, response []byte, attempts int, keys []string) *DeadLetter {
	dl := *old
	dl.Reason = "replay: " + reason
	dl.Status, dl.Response = status, response
	dl.Attempts = old.Attempts + attempts
	dl.FailedAt = time.Now()
	if len(keys) > 0 {
		dl.Actions = keys
	}
	dl.StreamSeq = 0
	return &dl
}
