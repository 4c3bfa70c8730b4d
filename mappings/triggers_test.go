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
