package ingest

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Retry-After values, in seconds, sent with a pushback.
const (
	retryAfterBusy        = 1 // 429: too many publishes waiting for acks
	retryAfterUnavailable = 5 // 503: JetStream refused or did not answer
)

// Subject returns the subject an event of callType from source is
// published on: events.<source>.<type> (a pinned wire contract).
func Subject(source, callType string) string {
	return "events." + source + "." + callType
}

// publish sends every event and waits for JetStream to acknowledge each.
// It answers 200 only when all were acknowledged (stored, or recognised as
// duplicates of stored ones).
func (s *Server) publish(ctx context.Context, source string, events []*event, batch bool) reply {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	msg := func(ev *event) *nats.Msg {
		m := nats.NewMsg(Subject(source, ev.typ))
		m.Header.Set(jetstream.MsgIDHeader, ev.id)
		m.Data = ev.data
		return m
	}

	var (
		published, duplicates int
		firstErr              error
	)
	count := func(ack *jetstream.PubAck) {
		if ack.Duplicate {
			duplicates++
		} else {
			published++
		}
	}

	if !batch {
		ack, err := s.js.PublishMsg(ctx, msg(events[0]))
		if err != nil {
			firstErr = err
		} else {
			count(ack)
		}
	} else {
		// A batch goes out asynchronously: one round trip for all of it
		// rather than one per event.
		futures := make([]jetstream.PubAckFuture, 0, len(events))
		for _, ev := range events {
			f, err := s.js.PublishMsgAsync(msg(ev))
			if err != nil {
				firstErr = err
				break
			}
			futures = append(futures, f)
		}
	wait:
		for _, f := range futures {
			select {
			case ack := <-f.Ok():
				count(ack)
			case err := <-f.Err():
				if firstErr == nil {
					firstErr = err
				}
			case <-ctx.Done():
				if firstErr == nil {
					firstErr = ctx.Err()
				}
				break wait
			}
		}
	}

	s.metrics.events(source, resultPublished, published)
	s.metrics.events(source, resultDuplicate, duplicates)
	if firstErr == nil {
		s.log.Debug("ingest: published", "source", source, "events", len(events), "duplicates", duplicates)
		return reply{status: http.StatusOK}
	}

	if s.onPubErr != nil {
		s.onPubErr(firstErr)
	}
	status, retryAfter := pushback(firstErr)
	s.log.Warn("ingest: JetStream did not take every event; the client will retry",
		"source", source, "events", len(events), "acked", published+duplicates,
		"status", status, "err", firstErr)
	rep := fail(status, "JetStream did not acknowledge every event (%d of %d stored): %v; retry after %d s, duplicates are dropped by messageId",
		published+duplicates, len(events), firstErr, retryAfter)
	rep.retryAfter = retryAfter
	return rep
}

// pushback turns a publish failure into a status: 429 when this process
// has too many publishes awaiting acks (the client should slow down), 503
// otherwise (no stream, no server, a timeout, a full stream). Both are
// retryable by every Segment SDK; neither means the events are lost.
func pushback(err error) (status, retryAfter int) {
	if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		return http.StatusTooManyRequests, retryAfterBusy
	}
	return http.StatusServiceUnavailable, retryAfterUnavailable
}
