// Package router joins the other packages and runs them: it builds each
// destination's plan from its config file, its catalog definition and the
// mapping language; wires JetStream (streams, one durable consumer per
// destination); runs one lane per destination; decides ack, nak and dead
// letter for every message; reloads the config atomically; and serves the
// admin endpoints.
package router
