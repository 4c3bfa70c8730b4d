// Package ingest is the Segment-compatible HTTP Tracking API: it accepts
// events from existing Segment SDKs and publishes each to JetStream on
// events.<source>.<type>.
//
// # Endpoints
//
// POST /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group and
// /v1/alias take one event; /v1/batch takes {"batch": [...]} and /v1/import
// is an alias of it. analytics.js posts to the short forms /v1/i, /v1/t,
// /v1/p, /v1/s, /v1/g, /v1/a and /v1/b (batching), so those are served too.
// A single call takes its type from the path when the body has none; a body
// whose type disagrees with the path is refused.
//
// The write key is the HTTP Basic username (the password is ignored), or the
// writeKey field of the body, as analytics.js sends it. It maps to a source
// id, which becomes the <source> token of the subject.
//
// # What an event gets
//
// Each event gets a messageId when it has none, receivedAt (server time), the
// batch's top-level context and integrations as defaults under its own, the
// batch's sentAt when it has none, and a timestamp corrected for client clock
// skew (see mappings.CorrectTimestamp), the client's own value being kept in
// originalTimestamp. writeKey is removed. It is then validated exactly as the
// router will decode it, and published with the Nats-Msg-Id header set to its
// messageId, so that a retried request is deduplicated by the stream.
//
// # Guarantees
//
// A 200 is sent only after JetStream has acknowledged every event of the
// request: once a client sees it, the events are stored. A batch is
// all-or-nothing at validation: when any event in it is invalid the request
// is answered 400 and none is published, so a client never has to work out
// which half of a batch to resend. When JetStream pushes back (no stream, a
// timeout, a full stream) the answer is 503, or 429 when too many publishes
// are already waiting for acks, both with Retry-After; some events of that
// request may already be stored, and the client's retry is deduplicated by
// messageId within the stream's duplicate window.
package ingest
