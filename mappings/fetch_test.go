package mappings

import (
	"reflect"
	"strings"
	"testing"
)

// Members read through fetch give what expr's own reads give, value and
// error alike, including through optional chains, predicates, lists and
// values of every kind.
func TestFetchReadsAsExprDoes(t *testing.T) {
	fast, slow := newCompiler(ExprLimits{}, true), newCompiler(ExprLimits{}, false)
	events := []*Event{
		helperEvent(t, `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"12.5","products":[{"price":1,"tags":["a"]},{"price":"2"}],"n":null,"s":"str","o":{"p":{"q":1}}},"context":{"page":{"url":"https://x"},"traits":{"email":"a@b.c"}},"integrations":{"Airship":{"channel_id":"c"}}}`),
		helperEvent(t, `{"type":"identify","anonymousId":"a","traits":{"email":"P@x.org","address":{"city":"Paris"},"list":[1,2]}}`),
		helperEvent(t, `{"type":"page","anonymousId":"a","name":"Home"}`),
	}
	exprs := []string{
		`properties.revenue`, `properties.missing`, `properties.o.p.q`, `properties.o.p.missing`,
		`properties.n.x`, `properties.s.x`, `properties.products[0].price`, `properties.products[0].tags[0]`,
		`map(properties.products, .price)`, `map(properties.products, #.tags)`, `properties?.o?.p?.q`,
		`context?.page?.url`, `context.page?.url`, `context?.missing.url`, `traits.address.city`, `traits?.address.city`,
		`traits.list[1]`, `traits.list.x`, `integrations?.Airship?.channel_id`, `integrations.Airship.channel_id`,
		`raw.event`, `settings.key`, `settings.missing.deeper`, `{"a": {"b": 1}}.a.b`, `["x"].y`,
		`(context?.missing).url`, `properties.products[1:][0].price`, `context?.missing[1:].url`,
		`len(properties.products) > 0 ? properties.products[0]["price"] : nil`, `properties["o"].p`,
		`integrations?.["Airship"] ?? integrations?.Other`, `properties?.n?.x`, `properties?.s?.x`, `properties?.products?.x`,
		`context?.page?.missing?.x ?? "d"`, `traits?.list?.x`, `properties?.o?.p?.q?.r`, `(properties?.o?.p).q`,
		`raw?.properties?.revenue`, `settings?.key`, `settings?.missing?.x`, `$env?.properties?.revenue`,
		// Map literals of nine keys and more are built at their size (maplit.go).
		`{"a": 1, "b": userId, "c": nil, "d": properties.revenue, "e": 2, "f": 3, "g": 4, "h": 5, "i": {"j": traits?.email}}`,
		`{"a": 1, "a": 2, "b": 3, "c": 4, "d": 5, "e": 6, "f": 7, "g": 8, "h": 9, "a": 10}.a`,
		`{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, (settings.key): 9}`,
		`len({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": properties.o.p.missing.x})`,
	}
	settings := map[string]any{"key": "k"}
	for _, src := range exprs {
		pf, errf := fast.Expr("f", src)
		ps, errs := slow.Expr("f", src)
		if (errf == nil) != (errs == nil) {
			t.Fatalf("%s: compiles with fetch: %v; with expr's reads: %v", src, errf, errs)
		}
		if errf != nil {
			if errf.Error() != errs.Error() {
				t.Errorf("%s: compile error %q, want %q", src, errf, errs)
			}
			continue
		}
		for i, ev := range events {
			env := NewEnv(ev, "s", settings)
			vf, ef := pf.Eval(env)
			vs, es := ps.Eval(env)
			if !reflect.DeepEqual(vf, vs) || (ef == nil) != (es == nil) || (ef != nil && ef.Error() != es.Error()) {
				t.Errorf("%s on event %d: %v (%v), want %v (%v)", src, i, vf, ef, vs, es)
			}
		}
	}
	p, _ := fast.Expr("f", `traits.email`)
	if !strings.Contains(p.prog.Disassemble(), "OpCallTyped") || strings.Contains(p.prog.Disassemble(), "OpFetch\t") {
		t.Fatalf("traits.email is not read through fetch:\n%s", p.prog.Disassemble())
	}
}

// BenchmarkMemberReads is ten member reads of the event's maps.
func BenchmarkMemberReads(b *testing.B) {
	ev := helperEvent(b, `{"type":"identify","userId":"u1","traits":{"email":"a@b.c","first_name":"A","address":{"city":"Paris","country":"FR"}},"context":{"page":{"url":"https://x","path":"/"},"ip":"1.2.3.4"}}`)
	src := `[traits.email, traits.first_name, traits.address.city, traits.address.country, context.page.url, context.page.path, context.ip, traits.missing, raw.type, raw.userId]`
	for _, fast := range []bool{false, true} {
		name := "reflect"
		if fast {
			name = "fetch"
		}
		b.Run(name, func(b *testing.B) {
			p, err := newCompiler(ExprLimits{}, fast).Expr("f", src)
			if err != nil {
				b.Fatal(err)
			}
			env := NewEnv(ev, "s", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzFetchAgrees: any expression that compiles gives, with member reads
// through fetch, the value and the error expr's own reads give.
func FuzzFetchAgrees(f *testing.F) {
	for _, s := range []string{
		`properties.o.p.q`, `properties?.o?.p.q`, `context.page.url ?? "x"`, `map(properties.products, .price)`,
		`properties.s.x`, `properties.n.x`, `traits.list[0].a`, `(context?.missing).url`, `integrations.Airship.channel_id`,
		`filter(properties.products, #.price > 1)[0].tags`, `{"a": {"b": 1}}.a.b`, `properties["o"].p?.q`,
		`properties?.s?.x`, `context?.page?.missing?.x ?? "d"`, `map(properties?.products, #?.tags?.x)`,
	} {
		f.Add(s)
	}
	fast := newCompiler(ExprLimits{MaxNodes: 200, MemoryBudget: 10_000}, true)
	slow := newCompiler(ExprLimits{MaxNodes: 200, MemoryBudget: 10_000}, false)
	ev := helperEvent(f, `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"12.5","products":[{"price":1,"tags":["a"]},{"price":"2"}],"n":null,"s":"str","o":{"p":{"q":1}}},"context":{"page":{"url":"https://x"},"traits":{"email":"a@b.c","list":[{"a":1}]}},"integrations":{"Airship":{"channel_id":"c"}}}`)
	settings := map[string]any{"key": "k", "list": []any{"a", 1.0}}
	f.Fuzz(func(t *testing.T, src string) {
		pf, errf := fast.Expr("f", src)
		ps, errs := slow.Expr("f", src)
		if (errf == nil) != (errs == nil) {
			t.Fatalf("%q compiles with fetch: %v; with expr's reads: %v", src, errf, errs)
		}
		if errf != nil {
			return
		}
		vf, ef := pf.Eval(NewEnv(ev, "s", settings))
		vs, es := ps.Eval(NewEnv(ev, "s", settings))
		if (ef == nil) != (es == nil) || (ef != nil && ef.Error() != es.Error()) {
			t.Fatalf("%q: error %v, want %v", src, ef, es)
		}
		if ef == nil && !reflect.DeepEqual(vf, vs) && !(isNaN(vf) && isNaN(vs)) {
			t.Fatalf("%q: %#v, want %#v", src, vf, vs)
		}
	})
}

func isNaN(v any) bool {
	f, ok := v.(float64)
	return ok && f != f
}
