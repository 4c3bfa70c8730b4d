package mappings

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Fields is a compiled fields tree: a YAML tree whose string leaves are
// expressions and whose numbers and booleans are literals. Rendering omits
// a leaf that evaluates to nil rather than sending null.
type Fields struct {
	root fieldNode
	// whole is every expression leaf of the tree compiled as one list
	// literal, in depth-first order, so that rendering costs one VM run,
	// not one per leaf, and the tree's maps are then built here at their
	// size, nil leaves left out, instead of by the VM key by key and pruned
	// after. When it fails, the leaves run one by one to name the one at
	// fault. nil when the tree has no expression leaf.
	whole *Program
	// split is set for the fields of an action with a foreach when some
	// leaves read nothing of the element (hoist.go).
	split *split
}

type fieldNode struct {
	kind     fieldKind
	keys     []string    // object: keys, sorted
	children []fieldNode // object values or list elements
	prog     *Program    // expression leaf
	literal  any         // literal leaf
}

type fieldKind uint8

const (
	fieldLiteral fieldKind = iota
	fieldExpr
	fieldObject
	fieldList
)

// Fields compiles a tree made of map[string]any, []any, string (an
// expression), and literal numbers, booleans and nulls. path prefixes the
// path of every error, which names the offending leaf, for example
// "fields.purchases.price".
//
// Every leaf that does not compile is reported: the error is an ExprErrors
// listing each, so that one broken leaf does not hide another.
func (c *Compiler) Fields(path string, tree any) (*Fields, error) {
	var errs ExprErrors
	n := c.fieldNode(path, tree, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	f := &Fields{root: n}
	if n.kind == fieldObject || n.kind == fieldList {
		var b strings.Builder
		b.WriteString("[")
		if n.leaves(&b, 0) > 0 {
			b.WriteString("]")
			// Every leaf compiled alone, so this compiles too unless the
			// combination hits a bound; then the leaves run one by one.
			f.whole, _ = c.Expr(path, b.String())
		}
	}
	return f, nil
}

// leaves writes the node's expression leaves, each in parentheses, as
// elements of one expr list literal, in depth-first order, and returns how
// many it wrote in all (n before it).
func (n *fieldNode) leaves(b *strings.Builder, count int) int {
	switch n.kind {
	case fieldExpr:
		if count > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		b.WriteString(n.prog.src)
		b.WriteString("\n)")
		count++
	case fieldObject, fieldList:
		for i := range n.children {
			count = n.children[i].leaves(b, count)
		}
	}
	return count
}

func (c *Compiler) fieldNode(path string, v any, errs *ExprErrors) fieldNode {
	switch x := v.(type) {
	case string:
		p, err := c.Expr(path, x)
		if err != nil {
			errs.add(err)
			return fieldNode{}
		}
		return fieldNode{kind: fieldExpr, prog: p}
	case map[string]any:
		n := fieldNode{kind: fieldObject, keys: make([]string, 0, len(x))}
		for k := range x {
			n.keys = append(n.keys, k)
		}
		sort.Strings(n.keys)
		for _, k := range n.keys {
			n.children = append(n.children, c.fieldNode(joinPath(path, k), x[k], errs))
		}
		return n
	case []any:
		n := fieldNode{kind: fieldList}
		for i, e := range x {
			n.children = append(n.children, c.fieldNode(path+"["+strconv.Itoa(i)+"]", e, errs))
		}
		return n
	case nil, bool, int, int64, uint64, float64:
		return fieldNode{kind: fieldLiteral, literal: x}
	}
	errs.add(&ExprError{Path: path, Message: fmt.Sprintf("unsupported value of type %T", v)})
	return fieldNode{}
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// Render evaluates the tree. A nil leaf is left out of its object; in a list
// it is kept as null, so that positions keep their meaning.
func (f *Fields) Render(env *Env) (any, error) {
	if f == nil {
		return nil, nil
	}
	if f.whole != nil {
		if v, err := f.whole.Eval(env); err == nil {
			if vals, ok := v.([]any); ok {
				i := 0
				return f.root.build(vals, &i), nil
			}
		}
		// Run the leaves one by one: the error then names its leaf.
	}
	return f.root.render(env)
}

// build makes the node's value from the values of the tree's expression
// leaves (vals, in depth-first order; *next is the node's first), by the
// rules of render.
func (n *fieldNode) build(vals []any, next *int) any {
	switch n.kind {
	case fieldExpr:
		var v any
		if *next < len(vals) {
			v = vals[*next]
		}
		*next++
		return normalise(v)
	case fieldObject:
		out := make(map[string]any, len(n.keys))
		for i := range n.children {
			if v := n.children[i].build(vals, next); !isNil(v) {
				out[n.keys[i]] = v
			}
		}
		return out
	case fieldList:
		out := make([]any, len(n.children))
		for i := range n.children {
			out[i] = n.children[i].build(vals, next)
		}
		return out
	}
	return n.literal
}

func (n *fieldNode) render(env *Env) (any, error) {
	switch n.kind {
	case fieldLiteral:
		return n.literal, nil
	case fieldExpr:
		v, err := n.prog.Eval(env)
		if err != nil {
			return nil, err
		}
		return normalise(v), nil
	case fieldObject:
		out := make(map[string]any, len(n.keys))
		for i := range n.children {
			v, err := n.children[i].render(env)
			if err != nil {
				return nil, err
			}
			if !isNil(v) {
				out[n.keys[i]] = v
			}
		}
		return out, nil
	case fieldList:
		out := make([]any, len(n.children))
		for i := range n.children {
			v, err := n.children[i].render(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, nil
}

// Empty reports whether the tree has nothing to render.
func (f *Fields) Empty() bool {
	return f == nil || (f.root.kind == fieldObject && len(f.root.keys) == 0)
}

// isNil reports nil, including a nil map or list (an absent properties
// object): a leaf over it is omitted, not sent as null.
func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return x == nil
	case []any:
		return x == nil
	}
	return false
}

// normalise turns what expr can build but JSON cannot encode into what it
// can: maps with non-string keys (fromPairs) get their keys printed.
func normalise(v any) any {
	switch x := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[Stringify(k)] = normalise(e)
		}
		return out
	case []any:
		for i, e := range x {
			if _, ok := e.(map[any]any); ok {
				x[i] = normalise(e)
			}
		}
	}
	return v
}
