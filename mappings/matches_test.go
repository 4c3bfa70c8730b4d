package mappings

import (
	"testing"
)

// A matches whose pattern is not a literal (a let variable, a field of the
// event) answers as expr's own does: true, false, nil on either side
// false, a bad pattern an error; and it compiles the pattern once, not on
// every evaluation.
func TestMatchesWithAPatternThatIsNotALiteral(t *testing.T) {
	ev := `{"type":"track","event":"x","properties":{"d":"2024-03-01","p":"^[0-9]{4}-","bad":"(","n":null}}`
	runHelperCases(t, []helperCase{
		{"let pattern, match", ev, `let re = "^[0-9]{4}-"; properties.d matches re`, true, ""},
		{"let pattern, no match", ev, `let re = "^x"; properties.d matches re`, false, ""},
		{"pattern from the event", ev, `properties.d matches properties.p`, true, ""},
		{"literal pattern unchanged", ev, `properties.d matches "^[0-9]{4}-"`, true, ""},
		{"nil text", ev, `let re = "x"; properties.n matches re`, false, ""},
		{"nil pattern", ev, `properties.d matches properties.n`, false, ""},
		{"absent pattern", ev, `properties.d matches properties.missing`, false, ""},
		{"bad pattern", ev, `properties.d matches properties.bad`, nil, "missing closing )"},
		{"in a condition", ev, `let re = "^[0-9]{4}-"; properties.d matches re ? "date" : "text"`, "date", ""},
	})
	p, err := helperCompiler.Expr("test", `let re = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"; properties.d matches re`)
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(helperEvent(t, ev), "web", nil)
	if _, err := p.Eval(env); err != nil {
		t.Fatal(err)
	}
	// Compiling that pattern alone allocates dozens of times.
	if n := testing.AllocsPerRun(100, func() {
		if got, err := p.Eval(env); err != nil || got != true {
			t.Fatalf("= %v, %v", got, err)
		}
	}); n > 5 {
		t.Errorf("%.0f allocations per evaluation: the pattern is compiled each time", n)
	}
}
