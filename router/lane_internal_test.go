package router

import "testing"

// The source is the subject's second token (events.<source>.<type>).
func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"events.web.track": "web",
		"events.ios":       "ios",
		"events":           "",
		"events..track":    "",
		"":                 "",
	} {
		if got := sourceOf(in); got != want {
			t.Errorf("sourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}
