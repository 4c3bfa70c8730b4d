package mappings

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// compact(x) copies x without its nil values whenever x holds one, and
// presets mostly compact an object they have just built: a literal of
// optional fields (compact({"email": email(), "phone": phone(), ...})),
// a merge (PostHog's compact(merge(properties, {...})), Mixpanel's), or
// an omitKeys (Braze's, Customer.io's traits). Such a literal holds a nil
// as often as not, so the object was built, then walked, then built again
// without it. Nothing but the compact holds that object, so the compiler
// rewrites compact(x), where x is a map literal or a call of merge or
// omitKeys, into a call of compactOwned, which removes the nil values from
// x itself: the same keys and values as compact's copy, one map fewer.
// The inner call is left as it was, so its arguments are checked and it
// fails as before.
//
// The callee is the function itself, a constant of the unnamed type
// func(any) any, which expr's VM calls directly (OpCallTyped, as
// fetch.go's member reads). The patch runs before maplit.go's: a call a
// patch makes among the values of a literal maplit.go already rewrote is
// left untyped by expr's checker, and called through reflection.

// compactOwned is compact of a value the caller built and holds alone.
func compactOwned(v any) any {
	m, ok := v.(map[string]any)
	if !ok || m == nil {
		// nil (omitKeys of nil): compact gives it back; anything else is
		// not what a literal, merge or omitKeys makes.
		return compactValue(v)
	}
	for k, e := range m {
		// Deleting or replacing the entry just read is allowed while
		// ranging over a map, and adds none.
		switch {
		case e == nil:
			delete(m, k)
		case !compacted(e):
			m[k] = compactValue(e)
		}
	}
	return m
}

// compactOwnedPC identifies compactOwned in a patched tree.
var compactOwnedPC = reflect.ValueOf(compactOwned).Pointer()

// isCompactOwned reports whether n is a rewritten compact.
func isCompactOwned(n *ast.CallNode) bool {
	c, ok := n.Callee.(*ast.ConstantNode)
	if !ok || len(n.Arguments) != 1 {
		return false
	}
	f, ok := c.Value.(func(any) any)
	return ok && f != nil && reflect.ValueOf(f).Pointer() == compactOwnedPC
}

// compactFresh rewrites compact of a value built for it, as above.
type compactFresh struct{}

func (compactFresh) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok || len(c.Arguments) != 1 {
		return
	}
	if id, ok := c.Callee.(*ast.IdentifierNode); !ok || id.Value != "compact" {
		return
	}
	if !builtFresh(c.Arguments[0]) {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: compactOwned},
		Arguments: []ast.Node{c.Arguments[0]},
	})
}

// builtFresh reports whether n yields a map that each evaluation makes
// anew and hands to nothing else: a map literal (expr's OpMap, or
// maplit.go's builder), or a call of merge or omitKeys, whose object is
// new (or nil).
func builtFresh(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.MapNode:
		return true
	case *ast.CallNode:
		if isMapLiteral(x) {
			return true
		}
		id, ok := x.Callee.(*ast.IdentifierNode)
		return ok && (id.Value == "merge" || id.Value == "omitKeys")
	}
	return false
}
