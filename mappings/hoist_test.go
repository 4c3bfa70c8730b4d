package mappings

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The leaves of a foreach action that read nothing of the element run once
// per render (hoist.go), and every element's body is what rendering it
// whole gives: the same values, the same nil leaves left out, the same
// errors, each naming its element.
func TestForEachSharedLeavesRenderAsWhole(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	fields := map[string]any{
		"user":    "userIdOrAnonymousId()",
		"traits":  map[string]any{"$set": "traitsOf()", "none": "traits.missing"},
		"id":      `messageId + "-" + str(index + 1)`,
		"product": "item",
		"price":   `required(item.price, "products[].price")`,
		"list":    []any{"event", "item.sku", "nil"},
		"own_env": "$env.index",
		"answer":  42,
	}
	a, err := c.Action(ActionSpec{Name: "p", ForEach: "products()", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if a.fields.split == nil || a.fields.split.shared == nil || a.fields.split.each == nil {
		t.Fatalf("fields not split: %+v", a.fields.split)
	}
	var shared []bool
	var leaves []*Program
	a.fields.root.collect(&leaves)
	for i := range leaves {
		shared = append(shared, a.fields.split.fromShared[i])
	}
	// Depth first, keys sorted: answer is a literal; id, list[1], own_env,
	// price, product read the element.
	for i, p := range leaves {
		if want := p.src == "userIdOrAnonymousId()" || p.src == "traitsOf()" || p.src == "traits.missing" || p.src == "event" || p.src == "nil"; shared[i] != want {
			t.Errorf("leaf %q shared = %v, want %v", p.src, shared[i], want)
		}
	}
	ev := helperEvent(t, `{"type":"track","event":"Order Completed","userId":"u1","context":{"traits":{"plan":"pro"}},
		"properties":{"products":[{"sku":"a","price":1},{"sku":"b"},{"sku":"c","price":3}]}}`)
	out, failed, err := a.Render(NewEnv(ev, "web", nil))
	if err != nil {
		t.Fatal(err)
	}
	// The same action compiled without the split renders each element whole.
	whole, _ := c.Action(ActionSpec{Name: "p", ForEach: "products()", Fields: fields})
	whole.fields.split = nil
	wantOut, wantFailed, err := whole.Render(NewEnv(ev, "web", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || len(failed) != 1 || failed[0].Index != 1 {
		t.Fatalf("rendered %d, failed %+v; want 2 and item 1", len(out), failed)
	}
	for i := range out {
		got, _ := json.Marshal(out[i].Body)
		want, _ := json.Marshal(wantOut[i].Body)
		if string(got) != string(want) {
			t.Errorf("element %d: %s\nwhole: %s", out[i].Index, got, want)
		}
	}
	if !reflect.DeepEqual(failed[0].Err.Error(), wantFailed[0].Err.Error()) {
		t.Errorf("failure %q, whole gives %q", failed[0].Err, wantFailed[0].Err)
	}
}

// A shared leaf that fails fails every element as it would alone, naming
// its leaf; and the clock is read per element, not shared.
func TestForEachSharedLeafFailure(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	a, err := c.Action(ActionSpec{Name: "p", ForEach: "products()", Fields: map[string]any{
		"who": `required(userId, "a userId")`,
		"at":  "now()",
		"sku": "item.sku",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var leaves []*Program
	a.fields.root.collect(&leaves)
	for i, p := range leaves {
		if p.src == "now()" && a.fields.split.fromShared[i] {
			t.Error("now() is shared between elements")
		}
	}
	ev := helperEvent(t, `{"type":"track","event":"Order Completed","anonymousId":"a1","properties":{"products":[{"sku":"a"},{"sku":"b"}]}}`)
	out, failed, err := a.Render(NewEnv(ev, "web", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 || len(failed) != 2 {
		t.Fatalf("rendered %d, failed %d; want 0 and 2", len(out), len(failed))
	}
	for i, f := range failed {
		if f.Index != i || f.Err.Error() != "item "+string(rune('0'+i))+": fields.who: a userId is required" {
			t.Errorf("failure %d: %v", i, f.Err)
		}
	}
}
