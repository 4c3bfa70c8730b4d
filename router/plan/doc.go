// Package plan compiles a destination: it joins the destination's file
// with its catalog definition and the mapping language into a Plan
// (settings checked against the definition, presets resolved and
// overridden, triggers and fields compiled, the delivery policy resolved),
// and it routes one event through a plan: the integrations object, the
// filter, each action's trigger, the requests to send or the reason there
// are none. Preview renders those requests without sending them.
//
// It never touches NATS: validate, preview and the golden tests use it as
// the router does. The router (package router) runs plans; the dispatcher
// (package router/dispatch) sends what Route returns. See
// docs/architecture.md.
package plan
