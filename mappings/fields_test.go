package mappings

import (
	"reflect"
	"testing"
)

// A fields tree renders in one VM run (Fields.whole) to what its leaves
// render one by one: nil leaves left out of objects and kept as null in
// lists, literals as written, nested objects and lists in place, maps with
// non-string keys given string keys.
func TestFieldsOneRunMatchesLeafByLeaf(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	f, err := c.Fields("fields", map[string]any{
		"email":   "email()",
		"missing": "properties.nope",
		"n":       int64(3),
		"off":     false,
		"nothing": nil,
		"nested": map[string]any{
			"revenue": "revenue()",
			"gone":    "traits.absent",
			"deeper":  map[string]any{"all_nil": "nil"},
			"list":    []any{"properties.nope", "currency()", 2.5, map[string]any{"k": "userId"}},
		},
		"pairs":    `fromPairs([[1, "one"], [2, "two"]])`,
		"products": `map(products(), ({"id": .product_id}))`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.whole == nil {
		t.Fatal("the tree was not compiled as one expression")
	}
	ev := helperEvent(t, `{"type":"track","event":"Order Completed","userId":"u1","context":{"traits":{"email":"a@example.com"}},
		"properties":{"revenue":"12.5","currency":"eur","products":[{"product_id":"p1"},{"sku":"s2"}]}}`)
	env := NewEnv(ev, "web", nil)
	one, err := f.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	byLeaf, err := f.root.render(env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, byLeaf) {
		t.Fatalf("one run:  %#v\nby leaf: %#v", one, byLeaf)
	}
	want := map[string]any{
		"email": "a@example.com", "n": int64(3), "off": false,
		"nested":   map[string]any{"revenue": 12.5, "deeper": map[string]any{}, "list": []any{nil, "EUR", 2.5, map[string]any{"k": "u1"}}},
		"pairs":    map[string]any{"1": "one", "2": "two"},
		"products": []any{map[string]any{"id": "p1"}, map[string]any{"id": "s2"}},
	}
	if !reflect.DeepEqual(one, want) {
		t.Fatalf("rendered %#v\nwant     %#v", one, want)
	}
}
