package mappings

import (
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// A `matches` whose pattern is a literal is compiled once, with the
// expression. One whose pattern is anything else (a let variable, a
// setting, a field of the event) was compiled by expr's VM on every
// evaluation: Customer.io's v2 preset, with its date pattern in a let,
// spent 80 µs an event compiling it. matchesPatcher rewrites those into a
// call of matchesCached, which keeps each pattern it compiled (a bounded
// number: patterns read from events are the sender's to vary), with expr's
// own semantics: nil on either side is false, a bad pattern fails the
// evaluation with regexp's error.
type matchesPatcher struct{}

func (matchesPatcher) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok || b.Operator != "matches" {
		return
	}
	if _, literal := b.Right.(*ast.StringNode); literal {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: matchesCached},
		Arguments: []ast.Node{b.Left, b.Right},
	})
}

// maxCachedPatterns bounds the patterns matchesCached keeps; past it, a new
// pattern is compiled for its evaluation alone, as expr does.
const maxCachedPatterns = 256

var (
	patterns     sync.Map // pattern -> *regexp.Regexp
	patternCount atomic.Int64
)

func matchesCached(subject, pattern any) any {
	if runtime.IsNil(subject) || runtime.IsNil(pattern) {
		return false
	}
	p, ok := pattern.(string)
	if !ok {
		panic(fmt.Errorf("matches: the pattern is %s, not a string", kindOf(pattern)))
	}
	re, err := compiledPattern(p)
	if err != nil {
		panic(err)
	}
	switch s := subject.(type) {
	case string:
		return re.MatchString(s)
	case []byte:
		return re.Match(s)
	}
	panic(fmt.Errorf("matches: the text is %s, not a string", kindOf(subject)))
}

func compiledPattern(p string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if patternCount.Load() < maxCachedPatterns {
		if _, loaded := patterns.LoadOrStore(p, re); !loaded {
			patternCount.Add(1)
		}
	}
	return re, nil
}

// matchesCachedPC identifies matchesCached in a patched tree.
var matchesCachedPC = reflect.ValueOf(matchesCached).Pointer()

// isMatchesCall reports whether n is a rewritten `matches`.
func isMatchesCall(n *ast.CallNode) bool {
	c, ok := n.Callee.(*ast.ConstantNode)
	if !ok || len(n.Arguments) != 2 {
		return false
	}
	f, ok := c.Value.(func(any, any) any)
	return ok && f != nil && reflect.ValueOf(f).Pointer() == matchesCachedPC
}
