package mappings

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// ExprLimits bound the cost of expressions.
type ExprLimits struct {
	// MaxNodes bounds the size of one compiled expression (expr MaxNodes).
	MaxNodes uint
	// MemoryBudget bounds what one evaluation may allocate (expr's VM
	// memory budget, in its own units: roughly elements created).
	MemoryBudget uint
}

// DefaultExprLimits are far above any catalog preset.
var DefaultExprLimits = ExprLimits{MaxNodes: 2000, MemoryBudget: 100_000}

// Compiler compiles the mapping language. It is safe for concurrent use.
type Compiler struct {
	limits  ExprLimits
	options []expr.Option
	pure    map[string]bool // functions whose value follows from their arguments (purity.go)
	scoped  map[string]bool // event-scoped helpers (envInjector passes them $env)
}

// NewCompiler returns a compiler with every registered helper.
func NewCompiler(limits ExprLimits) *Compiler { return newCompiler(limits, true) }

// newCompiler is NewCompiler; without fastFetch, members are read by
// expr's own reflection (tests compare the two).
func newCompiler(limits ExprLimits, fastFetch bool) *Compiler {
	if limits.MaxNodes == 0 {
		limits.MaxNodes = DefaultExprLimits.MaxNodes
	}
	if limits.MemoryBudget == 0 {
		limits.MemoryBudget = DefaultExprLimits.MemoryBudget
	}
	opts := []expr.Option{expr.Env(Env{}), expr.MaxNodes(limits.MaxNodes)}
	scoped := map[string]bool{}
	for _, h := range Helpers() {
		opts = append(opts, expr.Function(h.Name, h.Fn, h.Types...))
		if h.EventScoped {
			scoped[h.Name] = true
		}
	}
	opts = append(opts, expr.Function("toJSON", toJSON, new(func(any) string))) // tojson.go
	opts = append(opts, expr.Patch(envInjector{names: scoped}), expr.Patch(matchesPatcher{}))
	if fastFetch {
		opts = append(opts, expr.Patch(fetchPatcher{}), expr.Patch(compactFresh{}), expr.Patch(mapLiterals{}))
	}
	return &Compiler{limits: limits, options: opts, pure: pureFunctions(), scoped: scoped}
}

// ExprError is an expression that does not compile, or fails at run time.
// Line and Column are 1-based positions inside the expression source.
type ExprError struct {
	Path    string // where the expression sits, for example "fields.events.time"
	Source  string
	Line    int
	Column  int
	Message string
	// Runtime is set for an evaluation error (compile errors are not).
	Runtime bool
}

func (e *ExprError) Error() string {
	if e.Runtime {
		// The operator knows the expression by its path; quoting a long
		// source in every dead letter only buries the reason.
		return fmt.Sprintf("%s: %s", e.Path, e.Message)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (at %d:%d of %q)", e.Path, e.Message, e.Line, e.Column, e.Source)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Message)
}

// ExprErrors is every error of one compilation: all the leaves of a
// fields tree, or all the parts of an action, that do not compile.
type ExprErrors []*ExprError

func (es ExprErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// add appends err: an *ExprError, or each of an ExprErrors.
func (es *ExprErrors) add(err error) {
	var many ExprErrors
	var one *ExprError
	switch {
	case errors.As(err, &many):
		*es = append(*es, many...)
	case errors.As(err, &one):
		*es = append(*es, one)
	default:
		*es = append(*es, &ExprError{Message: err.Error()})
	}
}

// Each calls fn for every *ExprError in err (an *ExprError or an
// ExprErrors); it reports false when err holds none.
func Each(err error, fn func(*ExprError)) bool {
	var many ExprErrors
	var one *ExprError
	switch {
	case errors.As(err, &many):
		for _, e := range many {
			fn(e)
		}
		return len(many) > 0
	case errors.As(err, &one):
		fn(one)
		return true
	}
	return false
}

func exprError(path, src string, err error) *ExprError {
	e := &ExprError{Path: path, Source: src, Message: err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Message = fe.Message
		e.Line = fe.Line
		e.Column = fe.Column + 1 // expr columns are 0-based
		if e.Line == 0 {
			e.Line = 1
		}
	}
	return e
}

// Program is one compiled expression.
type Program struct {
	src    string
	path   string
	prog   *vm.Program
	budget uint
	// settingsOnly: the value follows from the settings alone (purity.go).
	settingsOnly bool
}

// Source returns the expression text.
func (p *Program) Source() string { return p.src }

var vmPool = sync.Pool{New: func() any { return &vm.VM{} }}

// Eval runs the program. A run-time error names the expression's path.
func (p *Program) Eval(env *Env) (any, error) {
	m := vmPool.Get().(*vm.VM)
	m.MemoryBudget = p.budget
	out, err := m.Run(p.prog, env)
	vmPool.Put(m)
	if err != nil {
		ee := exprError(p.path, p.src, err)
		ee.Runtime = true
		return nil, ee
	}
	return out, nil
}

// Bool runs a boolean program; nil counts as false.
func (p *Program) Bool(env *Env) (bool, error) {
	v, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, _ := v.(bool)
	return b, nil
}

// Expr compiles an expression of any type. path names it in errors.
func (c *Compiler) Expr(path, src string) (*Program, error) {
	return c.compile(path, src)
}

// Bool compiles an expression that must yield a boolean (a trigger or
// filter).
func (c *Compiler) Bool(path, src string) (*Program, error) {
	return c.compile(path, src, expr.AsBool())
}

func (c *Compiler) compile(path, src string, extra ...expr.Option) (*Program, error) {
	opts := c.options
	if len(extra) > 0 {
		opts = append(append([]expr.Option{}, c.options...), extra...)
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, exprError(path, src, err)
	}
	return &Program{src: src, path: path, prog: prog, budget: c.limits.MemoryBudget, settingsOnly: settingsOnly(prog.Node(), c.pure)}, nil
}
