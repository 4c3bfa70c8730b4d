// Package mappings owns the Segment event model and the mapping language.
//
// It decodes and validates Segment-spec events (identify, track, page,
// screen, group, alias), applies the spec's own rules (clock-skew correction,
// the integrations object, where email and revenue live), and compiles and
// renders the expr-lang programs that turn an event into a tool's payload:
// an action's trigger, its optional foreach, and its fields tree.
//
// It imports nothing else from switchyard: the router joins it with config
// and destinations.
package mappings
