package mappings

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// expr builds a map literal ({"email": email(), ...}) into a map made
// without a size, pushing each key as well as each value: presets build
// literals of ten to twenty-six keys per event (Mixpanel's properties,
// Airship's attributes), and the map grew, rehashing, twice on the way.
// A literal whose keys are all string constants is rewritten into a list
// of its values handed to a mapBuilder that knows the keys, which makes
// the map at its size. Where a key repeats, the first pair wins, as in
// expr's OpMap, which inserts the pairs last to first.
type mapBuilder struct{ keys []string }

func (b *mapBuilder) build(values any) map[string]any {
	vals := values.([]any)
	m := make(map[string]any, len(b.keys))
	for i := len(b.keys) - 1; i >= 0; i-- {
		m[b.keys[i]] = vals[i]
	}
	return m
}

// mapBuilderPC identifies a rewritten literal: every builder's method
// value has the same code.
var mapBuilderPC = reflect.ValueOf((&mapBuilder{}).build).Pointer()

// isMapLiteral reports whether n is a rewritten map literal.
func isMapLiteral(n *ast.CallNode) bool { return isRewrittenCall(n, mapBuilderPC) }

// isRewrittenCall reports whether n is a call, with one argument, of a
// method value a patch put in place whose code is at pc.
func isRewrittenCall(n *ast.CallNode, pc uintptr) bool {
	c, ok := n.Callee.(*ast.ConstantNode)
	if !ok || c.Value == nil || len(n.Arguments) != 1 {
		return false
	}
	v := reflect.ValueOf(c.Value)
	return v.Kind() == reflect.Func && v.Pointer() == pc
}

// minMapLiteral is the size from which a literal is rewritten: a smaller
// map fits the first group Go allocates and never grows.
const minMapLiteral = 9

type mapLiterals struct{}

func (mapLiterals) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MapNode)
	if !ok || len(m.Pairs) < minMapLiteral {
		return
	}
	b := &mapBuilder{keys: make([]string, len(m.Pairs))}
	values := make([]ast.Node, len(m.Pairs))
	for i, p := range m.Pairs {
		pair, ok := p.(*ast.PairNode)
		if !ok {
			return
		}
		k, ok := pair.Key.(*ast.StringNode)
		if !ok {
			return
		}
		b.keys[i], values[i] = k.Value, pair.Value
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: b.build},
		Arguments: []ast.Node{&ast.ArrayNode{Nodes: values}},
	})
}
