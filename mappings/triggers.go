package mappings

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// TypeMismatch is a comparison of the event's type with a string no
// Segment event type has (type == "trak"): the trigger's author meant one
// that exists, and as written the comparison never holds (or, with !=,
// always holds).
type TypeMismatch struct {
	Literal  string
	Operator string // ==, !=, in, not in
	Line     int    // 1-based, inside the expression
	Column   int
}

// TypeMismatches walks the program's syntax tree and reports every
// comparison of `type` with a string that is not one of EventTypes:
// `type == "x"`, `"x" == type`, `type != "x"`, and `type in ["x", ...]`.
// It reads the tree, not the text, so spacing, parentheses and either
// operand order are all seen, and a string that merely looks like a
// comparison (inside another string) is not.
func (p *Program) TypeMismatches() []TypeMismatch {
	if p == nil {
		return nil
	}
	// The source parsed again, not the compiled tree: the optimiser folds
	// `type in [...]` into a constant set, hiding its strings.
	tree, err := parser.Parse(p.src)
	if err != nil {
		return nil // it compiled, so it parses; nothing to report otherwise
	}
	v := &typeVisitor{src: []rune(p.src)}
	ast.Walk(&tree.Node, v)
	return v.found
}

type typeVisitor struct {
	src   []rune
	found []TypeMismatch
}

func (v *typeVisitor) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok {
		return
	}
	switch b.Operator {
	case "==", "!=":
		if isTypeIdent(b.Left) {
			v.check(b.Right, b.Operator)
		} else if isTypeIdent(b.Right) {
			v.check(b.Left, b.Operator)
		}
	case "in", "not in":
		if !isTypeIdent(b.Left) {
			return
		}
		if arr, ok := b.Right.(*ast.ArrayNode); ok {
			for _, e := range arr.Nodes {
				v.check(e, b.Operator)
			}
		}
	}
}

func (v *typeVisitor) check(n ast.Node, op string) {
	s, ok := n.(*ast.StringNode)
	if !ok || slices.Contains(EventTypes, s.Value) {
		return
	}
	line, col := 1, 1
	for i := 0; i < s.Location().From && i < len(v.src); i++ {
		if v.src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	v.found = append(v.found, TypeMismatch{Literal: s.Value, Operator: op, Line: line, Column: col})
}

// isTypeIdent reports the event's `type` field (an identifier, as the
// compiler's patches leave it).
func isTypeIdent(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "type"
}

// triggerTypes reads, from a trigger's syntax tree, the event types it can
// hold for: nil when it cannot tell. Whenever the event's type is not in
// the set, the trigger is false, and evaluating it raises no error, so the
// VM run is skipped (Action.Matches): most of a catalog tool's triggers
// begin with type == "...", and each event matches one or two of them.
//
// exact is set when the trigger is nothing but a test of the type (type ==
// "identify", type in [...], or such tests joined by ||): it then holds,
// without an error, exactly for the types in the set, and the VM run is
// skipped for those too. always is set for the trigger `true`.
func triggerTypes(src string) (types map[string]bool, exact, always bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, false, false
	}
	if b, ok := tree.Node.(*ast.BoolNode); ok && b.Value {
		return nil, false, true
	}
	s, _, ok := typeSet(tree.Node)
	if !ok {
		return nil, false, false
	}
	return s, exactTypes(tree.Node), false
}

// exactTypes reports whether n is true, without an error, exactly when the
// event's type is in the set typeSet gives for it.
func exactTypes(n ast.Node) bool {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return false
	}
	switch b.Operator {
	case "==", "in":
		_, _, ok := typeSet(b)
		return ok
	case "||", "or":
		return exactTypes(b.Left) && exactTypes(b.Right)
	}
	return false
}

// typeSet returns S with ok when n is false, without an error, for every
// event whose type is not in S; safe when evaluating n never raises an
// error, whatever the event.
func typeSet(n ast.Node) (s map[string]bool, safe, ok bool) {
	b, isBin := n.(*ast.BinaryNode)
	if !isBin {
		return nil, false, false
	}
	switch b.Operator {
	case "==":
		lit, isLit := b.Right.(*ast.StringNode)
		if !isTypeIdent(b.Left) || !isLit {
			lit, isLit = b.Left.(*ast.StringNode)
			if !isTypeIdent(b.Right) || !isLit {
				return nil, false, false
			}
		}
		return map[string]bool{lit.Value: true}, true, true
	case "in":
		arr, isArr := b.Right.(*ast.ArrayNode)
		if !isTypeIdent(b.Left) || !isArr {
			return nil, false, false
		}
		s := map[string]bool{}
		for _, e := range arr.Nodes {
			lit, isLit := e.(*ast.StringNode)
			if !isLit {
				return nil, false, false
			}
			s[lit.Value] = true
		}
		return s, true, true
	case "&&", "and":
		// type ∉ S(left): left is false, and the right is not evaluated.
		// type ∉ S(right), left safe: left may hold, the right is false.
		ls, lsafe, lok := typeSet(b.Left)
		rs, rsafe, rok := typeSet(b.Right)
		switch {
		case lok && rok && lsafe:
			return intersect(ls, rs), rsafe, true
		case lok:
			return ls, false, true
		case rok && lsafe:
			return rs, false, true
		}
	case "||", "or":
		ls, lsafe, lok := typeSet(b.Left)
		rs, rsafe, rok := typeSet(b.Right)
		if lok && rok {
			u := map[string]bool{}
			for k := range ls {
				u[k] = true
			}
			for k := range rs {
				u[k] = true
			}
			return u, lsafe && rsafe, true
		}
	}
	return nil, false, false
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}
