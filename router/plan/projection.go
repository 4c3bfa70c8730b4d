package plan

import "github.com/switchyard/switchyard/mappings"

// What a plan reads of an event, so that a lane decodes no more
// (mappings.DecodeProjected). A webhook forwarding events as they came
// sends their own bytes: Route reads only the identifiers (suppression,
// sampling), the times forwardBody adds when the event lacks them, the
// integrations object and, with consent categories, the context. Every
// other plan reads the whole event: its triggers, fields, filter and field
// filters are expressions and paths over any member.

// Projection is what Route reads of an event: nil for the whole event.
// An event decoded with it routes exactly as the whole event does
// (TestProjectedEventsRouteAsWholeOnes).
func (p *Plan) Projection() *mappings.Projection { return p.projection }

// reads works out Projection once the plan is built.
func (p *Plan) reads() *mappings.Projection {
	if !p.forward || p.Filter != nil || p.gates.hasFieldFilters() {
		return nil
	}
	if len(p.gates.consent) > 0 {
		return mappings.Project("integrations", "context")
	}
	return mappings.Project("integrations")
}
