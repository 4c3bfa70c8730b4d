package mappings

import (
	"reflect"
	"regexp"
	"testing"

	"github.com/expr-lang/expr/ast"
)

// compact of a literal, a merge or an omitKeys, rewritten into
// compactOwned, gives what compact gives, value and error alike, and
// changes nothing it did not build: the event's own objects, run after
// run.
func TestCompactOwnedAgreesWithCompact(t *testing.T) {
	fast, slow := newCompiler(ExprLimits{}, true), newCompiler(ExprLimits{}, false)
	events := []*Event{
		helperEvent(t, `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"12.5","products":[{"price":1,"tags":["a",null]},{"price":"2","x":null}],"n":null,"s":"str","o":{"p":{"q":null}},"e":{},"l":[]},"context":{"traits":{"email":"a@b.c","gone":null}}}`),
		helperEvent(t, `{"type":"identify","anonymousId":"a","traits":{"email":"P@x.org","address":{"city":"Paris","zip":null},"list":[1,null],"plan":null}}`),
		helperEvent(t, `{"type":"page","anonymousId":"a","name":"Home"}`),
	}
	exprs := []string{
		`compact({"a": 1, "b": nil, "c": properties?.o, "d": traits?.address, "e": [nil, 1], "f": {"g": nil}})`,
		`compact({"a": nil})`, `compact({})`, `compact({"a": properties?.n, "b": properties?.e, "c": properties?.l})`,
		`compact({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": nil, "j": properties?.products})`,
		`compact({"a": 1, "a": nil})`, `compact({"a": nil, "a": 1})`, `compact({(settings.key): nil, "b": 1})`,
		`compact(merge(properties, {"n": 1, "s": nil, "x": context?.traits}))`,
		`compact(merge(properties, traits, context?.traits))`, `compact(merge())`, `compact(merge(nil, nil))`,
		`compact(merge(properties, "x"))`, `compact(merge({"a": nil}, {"a": 1}))`, `compact(merge({"a": 1}, {"a": nil}))`,
		`compact(omitKeys(properties, "products"))`, `compact(omitKeys(traits, "email"))`, `compact(omitKeys(nil, "a"))`,
		`compact(omitKeys(properties))`, `compact(omitKeys("x", "a"))`, `compact(omitKeys(context?.traits, "email"))`,
		`compact(merge(omitKeys(properties, "products"), omitKeys(properties.products?.[1] ?? {}, "price")))`,
		`len(compact({"a": nil, "b": 1}))`, `compact({"a": nil, "b": 1}).b`, `compact(properties)`, `compact(traits)`,
		`compact(traitsOf())`, `compact(context?.traits)`, `compact(pick(traits, "plan", "email"))`,
	}
	settings := map[string]any{"key": "k"}
	for _, src := range exprs {
		pf, errf := fast.Expr("f", src)
		ps, errs := slow.Expr("f", src)
		if (errf == nil) != (errs == nil) {
			t.Fatalf("%s: compiles rewritten: %v; as written: %v", src, errf, errs)
		}
		if errf != nil {
			if errf.Error() != errs.Error() {
				t.Errorf("%s: compile error %q, want %q", src, errf, errs)
			}
			continue
		}
		for i, ev := range events {
			before := deepCopy(ev.Raw)
			for run := 0; run < 2; run++ {
				env := NewEnv(ev, "s", settings)
				vf, ef := pf.Eval(env)
				vs, es := ps.Eval(env)
				if !reflect.DeepEqual(vf, vs) || (ef == nil) != (es == nil) || (ef != nil && ef.Error() != es.Error()) {
					t.Errorf("%s on event %d, run %d: %v (%v), want %v (%v)", src, i, run, vf, ef, vs, es)
				}
			}
			if !reflect.DeepEqual(ev.Raw, before) {
				t.Errorf("%s changed event %d: %v, was %v", src, i, ev.Raw, before)
			}
		}
	}
	for src, want := range map[string]bool{
		`compact({"a": nil})`:                    true,
		`compact(merge(properties, {"a": nil}))`: true,
		`compact(omitKeys(properties, "a"))`:     true,
		`compact({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": nil})`:        true,
		`{"a": compact({"x": nil}), "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9}`: true,
		`compact(properties)`:            false, // the event's own: compact copies it
		`compact(pick(properties, "a"))`: false,
	} {
		p, err := fast.Expr("f", src)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.prog.Disassemble(); untypedCall.MatchString(d) {
			t.Errorf("%s: a call through reflection:\n%s", src, d)
		}
		v := &compactSeen{}
		root := p.prog.Node()
		ast.Walk(&root, v)
		if v.found != want {
			t.Errorf("%s: rewritten %v, want %v", src, v.found, want)
		}
	}
}

// untypedCall is a call expr's VM makes through reflection (OpCall).
var untypedCall = regexp.MustCompile(`OpCall\s+<`)

type compactSeen struct{ found bool }

func (v *compactSeen) Visit(node *ast.Node) {
	if c, ok := (*node).(*ast.CallNode); ok && (isCompactOwned(c) || isCompactLiteral(c)) {
		v.found = true
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
