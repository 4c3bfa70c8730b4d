package mappings

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// toJSON writes what expr's builtin writes (json.MarshalIndent with two
// spaces), for every kind of value, and fails where it fails.
func TestToJSONAsTheBuiltin(t *testing.T) {
	values := []any{nil, true, false, 0, -7, int64(1) << 62, 0.0, math.Copysign(0, -1), 1.5, -2.25, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125,
		math.SmallestNonzeroFloat64, math.MaxFloat64, math.NaN(), math.Inf(1), "", "plain text 123", `quote"`, `back\slash`, "<b>&", "tab\t",
		"é", "\u2028", "\xff", "~\x7f", json.Number("12"), map[string]any{"a": 1, "b": []any{"x", nil}}, []any{}, map[string]any{}, []any{1, "<"},
		[]string{"a"}, int32(5), uint(3)}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		values = append(values, math.Float64frombits(r.Uint64()), r.NormFloat64()*math.Pow(10, float64(r.IntN(50)-25)), string(rune(r.IntN(0x3000))))
		b := make([]byte, r.IntN(6))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		values = append(values, string(b))
	}
	for _, v := range values {
		got, gerr := toJSON(v)
		wb, werr := json.MarshalIndent(v, "", "  ")
		if (gerr == nil) != (werr == nil) || (werr == nil && got != string(wb)) {
			t.Fatalf("toJSON(%#v) = %v, %v; the builtin gives %q, %v", v, got, gerr, wb, werr)
		}
	}
	p, err := NewCompiler(ExprLimits{}).Expr("f", `toJSON(properties.n) + toJSON(properties)`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(NewEnv(helperEvent(t, `{"type":"track","event":"A","properties":{"n":12}}`), "s", nil))
	if err != nil || got != "12{\n  \"n\": 12\n}" {
		t.Fatalf("toJSON in an expression = %q, %v", got, err)
	}
}

func BenchmarkToJSONScalar(b *testing.B) {
	for b.Loop() {
		if _, err := toJSON("12345"); err != nil {
			b.Fatal(err)
		}
	}
}
