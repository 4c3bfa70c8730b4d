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
