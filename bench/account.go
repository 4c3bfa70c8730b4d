package main

import (
	"fmt"
	"strings"
)

// bAccountMarkdown is where phase B's CPU goes: the CPU per event of every
// process B runs (the router; the bench's nats-server and sink) during its
// median round, against what the parts no destination of this
// design can drop cost the machine in the same round: the HTTP exchange
// (the raw HTTP ceiling's CPU per request, client and sink), consuming and
// acking each event (the JetStream consume ceiling's, client and server:
// DESIGN pins explicit acks, one per event and destination), and decoding
// and mapping it (in process). B's ratio to the HTTP ceiling is the
// exchange's share of B's CPU per event times the cores B kept busy over
// the cores the ceiling did; with nothing else to pay, the share could be
// at most the exchange over the sum of those parts.
func (r *report) bAccountMarkdown() string {
	b, h, j := r.b, r.http, r.bJS
	if b == nil || b.procCPU <= 0 || h.perOp <= 0 || j.perOp <= 0 || b.wall <= 0 {
		return ""
	}
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	drain := float64(b.procCPU.Nanoseconds()) / float64(b.events) / 1e3
	dec, rt := r.bDecodeNs/1e3, r.bRouteNs/1e3
	rest := drain - us(h.perOp) - us(j.perOp) - dec - rt
	w("\n#### Where phase B's CPU goes (the router's, the nats-server's and the sink's, per event, in its median round)\n\n")
	w("| part | µs per event | measured as |\n| --- | ---: | --- |\n")
	w("| B's drain, every process (router, nats-server, sink) | %.1f | their CPU time over the drain ÷ its events |\n", drain)
	w("| the HTTP exchange (client and sink) | %.1f | the raw HTTP ceiling of the same round, per request |\n", us(h.perOp))
	w("| consuming and acking the event, no work (client and nats-server) | %.1f | the JetStream %s ceiling of the same round, per event |\n", us(j.perOp), j.name)
	w("| decoding it | %.1f | in process, the same round |\n", dec)
	w("| mapping it (the 10-field action) | %.1f | in process, the same round |\n", rt)
	w("| the rest: the lane, the dispatcher, the Sender around the client, collecting garbage | %.1f | what is left |\n", rest)
	cb := drain * b.eps / 1e6
	ch := us(h.perOp) * h.eps / 1e6
	bound := us(h.perOp) / (us(h.perOp) + us(j.perOp) + dec + rt)
	w("\nB's ratio, %.2f ×, is the exchange's share of B's CPU per event (%.2f) times the cores B kept busy (%.2f) over the cores the ceiling did (%.2f). ",
		b.eps/h.eps, us(h.perOp)/drain, cb, ch)
	w("Were the rest free, the exchange's share would be %.2f: the most B can reach at the ceiling's cores while it consumes, acks, decodes and maps each event as it does.\n", bound)
	return sb.String()
}
