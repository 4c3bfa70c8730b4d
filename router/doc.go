// Package router runs destinations: it wires JetStream (the EVENTS, DLQ
// and RECEIPTS streams, one durable consumer per destination), runs one lane per
// destination that pulls, routes (through router/plan) and sends (through
// router/dispatch), and settles every message exactly once: ack, nak with
// a delay inside the retry window, or dead letter then ack. It also holds
// the expiry watch, the receipts checks of tools that confirm later, the
// DLQ and replay library the CLI and console share,
// JetStream write health, atomic reload, and the admin endpoints.
//
// It does not compile plans: router/plan does, without NATS. See
// docs/architecture.md for the flow, the lock order and the ledger.
package router
