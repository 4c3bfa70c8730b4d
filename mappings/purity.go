package mappings

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
)

// An expression that reads nothing but the destination's settings yields
// the same value for every event: a URL's base ({{ settings.endpoint }}),
// an API key header, basicAuth(settings.site_id, settings.api_key). A
// template's such parts are rendered once, when the plan binds its settings
// (Template.Bind), not once per request: each is a VM run otherwise, and
// most of a preset's URL and header parts are of this kind.

// impureBuiltins are expr builtins whose value does not follow from their
// arguments alone: the clock, and the machine's time zone.
var impureBuiltins = map[string]bool{"now": true, "date": true, "timezone": true}

// pureFunctions names the functions an expression may call and still depend
// on its arguments only: expr's builtins but the impure ones, and every
// helper that is not event-scoped (an event-scoped helper reads the event
// through $env, which a settings-only expression does not name anyway).
func pureFunctions() map[string]bool {
	pure := map[string]bool{}
	for _, b := range builtin.Builtins {
		if !impureBuiltins[b.Name] {
			pure[b.Name] = true
		}
	}
	for _, h := range Helpers() {
		if !h.EventScoped {
			pure[h.Name] = true
		}
	}
	return pure
}

// settingsOnly reports whether the expression tree names no variable but
// `settings` and its own let variables, and calls only pure functions, so
// that its value follows from the settings alone.
func settingsOnly(root ast.Node, pure map[string]bool) bool {
	v := &purity{pure: pure, ok: true, callees: map[*ast.IdentifierNode]bool{}, lets: map[string]bool{}}
	ast.Walk(&root, v)
	if !v.ok {
		return false
	}
	for _, id := range v.idents {
		if !v.callees[id] && id.Value != "settings" && !v.lets[id.Value] {
			return false
		}
	}
	return true
}

// purity collects what settingsOnly judges: the identifiers, which of them
// are called (and whether each such function is pure), and the names of
// let variables.
type purity struct {
	pure    map[string]bool
	ok      bool
	idents  []*ast.IdentifierNode
	callees map[*ast.IdentifierNode]bool
	lets    map[string]bool
}

func (p *purity) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		if isFetchCall(n) || isMatchesCall(n) || isMapLiteral(n) || isCompactOwned(n) || isCompactLiteral(n) {
			return // a member read (fetch.go), a matches (matches.go), a map literal (maplit.go), a compact (compactfresh.go): pure
		}
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || !p.pure[id.Value] {
			p.ok = false
			return
		}
		p.callees[id] = true
	case *ast.BuiltinNode:
		// expr parses its builtins (now, len, filter...) as these.
		if impureBuiltins[n.Name] {
			p.ok = false
		}
	case *ast.VariableDeclaratorNode:
		// expr refuses a let that redeclares an Env field, so a let name
		// never hides the event.
		p.lets[n.Name] = true
	case *ast.IdentifierNode:
		p.idents = append(p.idents, n)
	case *ast.PointerNode:
		// # and #acc name a predicate's element: of a list built from the
		// settings, or the expression names something else too.
	}
}
