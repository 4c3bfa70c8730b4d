package mappings

import (
	"reflect"
	"testing"
)

func TestTypeMismatchesReadTheSyntaxTree(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	cases := []struct {
		src  string
		want []string
	}{
		{`type == "track"`, nil},
		{`type == "trak"`, []string{"trak"}},
		{`"trak" == type`, []string{"trak"}},
		{`(type=="identify") || (type ==  "Track")`, []string{"Track"}},
		{`type != "pgae" && event == "x"`, []string{"pgae"}},
		{`type in ["track", "scren", "page"]`, []string{"scren"}},
		{`type not in ["alais"]`, []string{"alais"}},
		{`event == "type == \"trak\""`, nil}, // a string that looks like a comparison
		{`properties.type == "trak"`, nil},   // not the event's type
		{`true`, nil},
	}
	for _, tc := range cases {
		p, err := c.Bool("trigger", tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		var got []string
		for _, m := range p.TypeMismatches() {
			got = append(got, m.Literal)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: mismatches %q, want %q", tc.src, got, tc.want)
		}
	}
}

// Matches skips the VM run only where the run would say false without an
// error: for each trigger and each event type, with the gate and without
// it, the verdict and the error are the same.
func TestTriggerTypesAgreeWithTheRun(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	triggers := map[string][]string{
		`type == "identify"`: {"identify"},
		`"track" == type`:    {"track"},
		`type == "track" && ecommerceEvent() == "Order Completed"`:                             {"track"},
		`type in ["identify", "track", "page", "screen"] && (userId != nil || email() != nil)`: {"identify", "track", "page", "screen"},
		`type == "track" || type == "page"`:                                                    {"track", "page"},
		`type == "track" && type == "page"`:                                                    {},
		`(type == "track" && properties.x.y == 1) || type == "page"`:                           {"track", "page"},
		`properties.x.y == 1 && type == "track"`:                                               nil, // the left may fail first
		`type == "track" || properties.x.y == 1`:                                               nil,
		`type != "track"`:                                                                      nil,
		`true`:                                                                                 nil,
		`type == "track" && (properties.x.y == 1 && type == "page")`:                           {"track"},
		`type == "track" and event == "Signed Up"`:                                             {"track"},
	}
	// The triggers Matches decides alone, the VM run skipped for every
	// type: a test of the type and nothing else, and `true`.
	decided := map[string]bool{
		`type == "identify"`:                true,
		`"track" == type`:                   true,
		`type == "track" || type == "page"`: true,
		`true`:                              true,
		`type in ["identify", "track"]`:     true,
		`type == "track" || (type == "page" || type in ["screen"])`: true,
	}
	triggers[`type in ["identify", "track"]`] = []string{"identify", "track"}
	triggers[`type == "track" || (type == "page" || type in ["screen"])`] = []string{"track", "page", "screen"}
	triggers[`type == "track" || type == "page" && event == "x"`] = []string{"track", "page"}
	for src := range triggers {
		a, err := c.Action(ActionSpec{Name: "a", Trigger: src, URL: "https://x"})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := a.typesExact || a.always; got != decided[src] {
			t.Errorf("%s: decided without a run %v, want %v", src, got, decided[src])
		}
	}
	var events []*Event
	for _, typ := range EventTypes {
		js := `{"type":"` + typ + `","userId":"u","event":"Signed Up","properties":{"x":null},"traits":{"email":"a@b.c"},"previousId":"p","groupId":"g"}`
		events = append(events, helperEvent(t, js))
	}
	for src, want := range triggers {
		a, err := c.Action(ActionSpec{Name: "a", Trigger: src, URL: "https://x"})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if (a.types == nil) != (want == nil) || len(a.types) != len(want) {
			t.Errorf("%s: types %v, want %v", src, a.types, want)
		}
		for _, w := range want {
			if !a.types[w] {
				t.Errorf("%s: types %v lack %s", src, a.types, w)
			}
		}
		for _, ev := range events {
			env := NewEnv(ev, "s", nil)
			got, gerr := a.Matches(env)
			ran, rerr := a.trigger.Bool(env)
			if got != ran || (gerr == nil) != (rerr == nil) {
				t.Errorf("%s on %s: Matches %v (%v), the run %v (%v)", src, ev.Type, got, gerr, ran, rerr)
			}
		}
	}
}
