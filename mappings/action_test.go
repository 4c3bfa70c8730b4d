package mappings

import (
	"strings"
	"testing"
)

// One element of a foreach that fails to render fails alone: its siblings
// render, and the failure names its position and the field at fault.
func TestForEachItemFailsAlone(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	a, err := c.Action(ActionSpec{Name: "purchase", ForEach: "products()", Fields: map[string]any{
		"id":    `required(item.product_id, "products[].product_id")`,
		"price": `required(item.price, "products[].price")`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ev := helperEvent(t, `{"type":"track","event":"Order Completed","properties":{"products":[
		{"product_id":"a","price":1},{"product_id":"b","price":"ten"},{"product_id":"c","price":3}]}}`)
	out, failed, err := a.Render(NewEnv(ev, "web", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Index != 0 || out[1].Index != 2 {
		t.Fatalf("rendered %+v; want items 0 and 2", out)
	}
	if len(failed) != 1 || failed[0].Index != 1 || !strings.Contains(failed[0].Err.Error(), "item 1") || !strings.Contains(failed[0].Err.Error(), "price") {
		t.Fatalf("failures %+v; want item 1, naming the price", failed)
	}
}

// Every broken part of an action is reported, not just the first: a
// broken trigger does not hide a broken field.
func TestActionReportsEveryCompileError(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	_, err := c.Action(ActionSpec{Name: "a", Method: "FETCH", Trigger: "type ==", ForEach: "products(", URL: "https://x/{{ nope }}",
		Headers: map[string]string{"X": "{{ bad( }}"}, Fields: map[string]any{"a": "1 +", "b": "userId", "c": map[string]any{"d": "))"}}})
	if err == nil {
		t.Fatal("no error")
	}
	var paths []string
	if !Each(err, func(e *ExprError) { paths = append(paths, e.Path) }) {
		t.Fatalf("error %T carries no ExprError", err)
	}
	want := "method trigger foreach url headers.X fields.a fields.c.d"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("reported %q, want %q", got, want)
	}
}
