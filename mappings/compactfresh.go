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
	if lit, ok := compactLiteralOf(c.Arguments[0]); ok {
		ast.Patch(node, lit)
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

// A literal whose keys are distinct string constants is not built with
// its nil values and then rid of them (deleting from a map of more than
// eight keys costs more than inserting: GA4's items hold a dozen optional
// fields): compact({"k": v, ...}) is built by a compactLiteral from the
// list of its values, with only the values that are not nil, each
// compacted, in a map of their number.
type compactLiteral struct{ keys []string }

func (b *compactLiteral) build(values any) any {
	vals := values.([]any)
	n := 0
	for _, v := range vals {
		if v != nil {
			n++
		}
	}
	m := make(map[string]any, n)
	for i, v := range vals {
		if v != nil {
			m[b.keys[i]] = compactValue(v)
		}
	}
	return m
}

// compactLiteralPC identifies a rewritten compact of a literal.
var compactLiteralPC = reflect.ValueOf((&compactLiteral{}).build).Pointer()

// isCompactLiteral reports whether n is a rewritten compact of a literal.
func isCompactLiteral(n *ast.CallNode) bool { return isRewrittenCall(n, compactLiteralPC) }

// compactLiteralOf is the call that builds compact(n), when n is a map
// literal whose keys are distinct string constants.
func compactLiteralOf(n ast.Node) (*ast.CallNode, bool) {
	m, ok := n.(*ast.MapNode)
	if !ok {
		return nil, false
	}
	b := &compactLiteral{keys: make([]string, len(m.Pairs))}
	values := make([]ast.Node, len(m.Pairs))
	seen := make(map[string]bool, len(m.Pairs))
	for i, p := range m.Pairs {
		pair, ok := p.(*ast.PairNode)
		if !ok {
			return nil, false
		}
		k, ok := pair.Key.(*ast.StringNode)
		if !ok || seen[k.Value] {
			return nil, false
		}
		seen[k.Value] = true
		b.keys[i], values[i] = k.Value, pair.Value
	}
	return &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: b.build},
		Arguments: []ast.Node{&ast.ArrayNode{Nodes: values}},
	}, true
}
