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
	// whole is the tree compiled as one expression (an object or list
	// literal of the leaves), so rendering costs one VM run, not one per
	// leaf. When it fails, the leaves run one by one to name the one at
	// fault. nil when the tree cannot be written as one expression.
	whole *Program
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
		if n.source(&b) {
			// Every leaf compiled alone, so this compiles too unless the
			// combination hits a bound; then the leaves run one by one.
			f.whole, _ = c.Expr(path, b.String())
		}
	}
	return f, nil
}

// source writes the node as one expr expression; false when a literal
// cannot be written.
func (n *fieldNode) source(b *strings.Builder) bool {
	switch n.kind {
	case fieldExpr:
		b.WriteString("(")
		b.WriteString(n.prog.src)
		b.WriteString("\n)")
	case fieldLiteral:
		switch x := n.literal.(type) {
		case nil:
			b.WriteString("nil")
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case int:
			b.WriteString(strconv.Itoa(x))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case float64:
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		default:
			return false
		}
	case fieldObject:
		b.WriteString("{")
		for i, k := range n.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
			b.WriteString(": ")
			if !n.children[i].source(b) {
				return false
			}
		}
		b.WriteString("}")
	case fieldList:
		b.WriteString("[")
		for i := range n.children {
			if i > 0 {
				b.WriteString(", ")
			}
			if !n.children[i].source(b) {
				return false
			}
		}
		b.WriteString("]")
	}
	return true
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
			return f.root.prune(v), nil
		}
		// Run the leaves one by one: the error then names its leaf.
	}
	return f.root.render(env)
}

// prune applies the rendering rules to what the whole-tree expression
// built: nil leaves leave their object, values are normalised.
func (n *fieldNode) prune(v any) any {
	switch n.kind {
	case fieldExpr:
		return normalise(v)
	case fieldObject:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for i, k := range n.keys {
			e := n.children[i].prune(m[k])
			if isNil(e) {
				delete(m, k)
			} else {
				m[k] = e
			}
		}
		return m
	case fieldList:
		l, ok := v.([]any)
		if !ok {
			return v
		}
		for i := range n.children {
			if i < len(l) {
				l[i] = n.children[i].prune(l[i])
			}
		}
		return l
	}
	return v
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
