package mappings

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// expr reads a member of a map (traits.email, context.page) through
// reflection: runtime.Fetch makes a reflect.Value of the map and of the
// key, and copies the value it finds to the heap. Presets read dozens of
// members per event, so the compiler rewrites each `x.name` whose x is a
// map[string]any, or a value of unknown type, into a call of fetchMember,
// which indexes a map[string]any directly and hands anything else to
// runtime.Fetch itself, so that every other value (a list, a struct, nil)
// behaves, and fails, exactly as before.
//
// The call's callee is the function itself, a constant of the unnamed type
// func(any, any) any, one of the signatures expr's VM calls directly
// (OpCallTyped): a function registered by name is called with its
// arguments in a slice, which the VM takes from a buffer it sizes by
// counting the calls in the bytecode once, so each read inside a map() or
// filter() predicate past the first pass allocated one.

// fetchMember is what a rewritten member read calls.
func fetchMember(from, key any) any {
	if m, ok := from.(map[string]any); ok {
		if k, ok := key.(string); ok {
			return m[k]
		}
	}
	return runtime.Fetch(from, key)
}

// fetchMemberPC identifies fetchMember in a patched tree.
var fetchMemberPC = reflect.ValueOf(fetchMember).Pointer()

// isFetchCall reports whether n is a rewritten member read.
func isFetchCall(n *ast.CallNode) bool {
	c, ok := n.Callee.(*ast.ConstantNode)
	if !ok || len(n.Arguments) != 2 {
		return false
	}
	f, ok := c.Value.(func(any, any) any)
	return ok && f != nil && reflect.ValueOf(f).Pointer() == fetchMemberPC
}

var mapStringAny = reflect.TypeOf(map[string]any(nil))

// fetchPatcher rewrites member reads as above. It leaves alone an optional
// read (x?.name) and every read after one in the same chain (x?.a.b): when
// x is nil, the chain yields nil without reading the rest, which a
// function call cannot skip. Method calls, reads of struct fields (the
// Env's own) and reads by a computed or numeric key are left too.
type fetchPatcher struct{}

func (fetchPatcher) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	if _, ok := m.Property.(*ast.StringNode); !ok {
		return
	}
	if t := m.Node.Type(); t != nil && t.Kind() != reflect.Interface && t != mapStringAny {
		return
	}
	if afterOptional(m.Node) {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: fetchMember},
		Arguments: []ast.Node{m.Node, m.Property},
	})
}

// afterOptional reports whether n reads through an optional member in its
// own chain: x?.a, x?.a[0], x?.a.b (already rewritten), x?.a[1:].
func afterOptional(n ast.Node) bool {
	for {
		switch x := n.(type) {
		case *ast.MemberNode:
			if x.Optional {
				return true
			}
			n = x.Node
		case *ast.SliceNode:
			n = x.Node
		case *ast.CallNode:
			if isFetchCall(x) {
				n = x.Arguments[0]
				continue
			}
			if mc, ok := x.Callee.(*ast.MemberNode); ok {
				n = mc
				continue
			}
			return false
		default:
			return false
		}
	}
}
