package mappings

import (
	"strings"

	"github.com/expr-lang/expr/ast"
)

// An action with a foreach renders its fields once per element, and most
// of a preset's leaves do not read the element: Amplitude's
// product_purchased repeats its 27 event fields (user_id, device_id,
// platform, user_properties...) on each product's event, of which only
// five read `item` or `index`. Those leaves give the same value for every
// element of one event, so they run once per render of the action, and
// only the leaves that read the element run per element.
//
// A leaf is shared when it names neither `item`, `index` nor `$env` (a
// helper reads the event, never the element) and calls none of the
// builtins whose value is not its arguments' (now, date, timezone). Values
// are shared between the elements' bodies as memoized values already are
// between actions: nothing changes a rendered body (bodies are encoded as
// they are). When either part fails, the element renders as before, all
// its leaves in one run, then one by one: its error is the one it always
// was.

// split is a Fields tree's leaves in two programs: those shared by every
// element of a foreach, and those that read the element.
type split struct {
	shared *Program // nil when every leaf reads the element
	each   *Program // nil when no leaf does
	// from[i] says where the tree's i-th leaf (depth first) is: at
	// position pos[i] of the shared values when shared[i], else of each's.
	fromShared []bool
	pos        []int
}

// forEach prepares f for rendering once per element of a foreach. It
// leaves f unchanged when nothing is shared, or when a part does not
// compile (the combination hits a bound).
func (c *Compiler) forEach(path string, f *Fields) {
	if f == nil || f.whole == nil {
		return
	}
	var leaves []*Program
	f.root.collect(&leaves)
	s := &split{fromShared: make([]bool, len(leaves)), pos: make([]int, len(leaves))}
	var shared, each strings.Builder
	nShared, nEach := 0, 0
	for i, p := range leaves {
		b, n := &each, &nEach
		if !readsElement(p, c.scoped) {
			b, n = &shared, &nShared
			s.fromShared[i] = true
		}
		s.pos[i] = *n
		if *n > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		b.WriteString(p.src)
		b.WriteString("\n)")
		*n++
	}
	if nShared == 0 {
		return
	}
	var err error
	if s.shared, err = c.Expr(path, "["+shared.String()+"]"); err != nil {
		return
	}
	if nEach > 0 {
		if s.each, err = c.Expr(path, "["+each.String()+"]"); err != nil {
			return
		}
	}
	f.split = s
}

// collect appends the node's expression leaves, depth first.
func (n *fieldNode) collect(out *[]*Program) {
	switch n.kind {
	case fieldExpr:
		*out = append(*out, n.prog)
	case fieldObject, fieldList:
		for i := range n.children {
			n.children[i].collect(out)
		}
	}
}

// readsElement reports whether the leaf's value may differ between the
// elements of one foreach (see above). scoped names the event-scoped
// helpers, whose first argument is the $env the compiler passes them.
func readsElement(p *Program, scoped map[string]bool) bool {
	v := &elementReads{scoped: scoped, passed: map[ast.Node]bool{}}
	root := p.prog.Node()
	ast.Walk(&root, v)
	if v.found {
		return true
	}
	for _, e := range v.envs {
		if !v.passed[e] {
			return true // the operator's own $env: it may read the element
		}
	}
	return false
}

type elementReads struct {
	scoped map[string]bool
	found  bool
	envs   []ast.Node        // every $env
	passed map[ast.Node]bool // the $env handed to an event-scoped helper
}

func (v *elementReads) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "item", "index":
			v.found = true
		case "$env":
			v.envs = append(v.envs, n)
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && v.scoped[id.Value] && len(n.Arguments) > 0 {
			v.passed[n.Arguments[0]] = true
		}
	case *ast.BuiltinNode:
		if impureBuiltins[n.Name] {
			v.found = true
		}
	}
}

// Shared are the values of a split tree's shared leaves for one render of
// a foreach; nil when the tree is not split or they failed (each element
// then renders whole).
type Shared struct{ vals []any }

// shared evaluates the shared leaves for env.
func (f *Fields) shared(env *Env) *Shared {
	if f == nil || f.split == nil {
		return nil
	}
	v, err := f.split.shared.Eval(env)
	if err != nil {
		return nil
	}
	vals, ok := v.([]any)
	if !ok {
		return nil
	}
	return &Shared{vals: vals}
}

// renderWith renders the tree for the current element, its shared leaves
// from sh. Without sh, or when the element's own leaves fail, it is Render.
func (f *Fields) renderWith(env *Env, sh *Shared) (any, error) {
	if sh == nil {
		return f.Render(env)
	}
	s := f.split
	var each []any
	if s.each != nil {
		v, err := s.each.Eval(env)
		if err != nil {
			return f.Render(env)
		}
		var ok bool
		if each, ok = v.([]any); !ok {
			return f.Render(env)
		}
	}
	vals := make([]any, len(s.pos))
	for i, p := range s.pos {
		src := each
		if s.fromShared[i] {
			src = sh.vals
		}
		if p < len(src) {
			vals[i] = src[p]
		}
	}
	i := 0
	return f.root.build(vals, &i), nil
}
