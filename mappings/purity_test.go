package mappings

import (
	"strings"
	"testing"
)

func TestSettingsOnly(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	cases := []struct {
		src  string
		want bool
	}{
		{`settings.endpoint`, true},
		{`settings.access_token != nil ? "Bearer " + settings.access_token : ""`, true},
		{`basicAuth(settings.site_id, settings.api_key)`, true},
		{`replace(settings.endpoint, ".i.posthog.com", ".posthog.com")`, true},
		{`let k = settings.api_key; k + ":"`, true},
		{`settings.datacenter ?? last(split(settings.api_key, "-"))`, true},
		{`required(settings.project_id, "settings.project_id")`, true},
		{`"literal"`, true},
		{`userId ?? email()`, false},
		{`email()`, false}, // event-scoped: reads $env
		{`messageId`, false},
		{`settings.ttl == nil ? "" : str(unixSeconds(timestamp) + int(settings.ttl))`, false},
		{`str(now())`, false},                 // the clock
		{`string(date("2024-01-01"))`, false}, // the machine's zone
		{`map(settings.list, # + item)`, false},
		// A literal of nine keys is built by a mapBuilder (maplit.go).
		{`{"a": settings.a, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5, "g": 6, "h": 7, "i": 8}`, true},
		{`{"a": userId, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5, "g": 6, "h": 7, "i": 8}`, false},
	}
	for _, tc := range cases {
		p, err := c.Expr("t", tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if p.settingsOnly != tc.want {
			t.Errorf("settingsOnly(%s) = %v, want %v", tc.src, p.settingsOnly, tc.want)
		}
	}
}

// A bound template renders exactly what the unbound one renders, for
// every event, and leaves a settings-only part that fails to fail at each
// render.
func TestTemplateBindRendersTheSame(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	settings := map[string]any{"endpoint": "https://api.example.com", "key": "k/1 ?x", "n": 12.0}
	events := []*Event{
		helperEvent(t, `{"type":"track","event":"A","userId":"u/1 x"}`),
		helperEvent(t, `{"type":"identify","anonymousId":"a?b","traits":{"email":"P@x.org"}}`),
	}
	templates := []struct {
		src  string
		mode TemplateMode
	}{
		{"{{ settings.endpoint }}/v1/{{ settings.key }}/users/{{ userId ?? anonymousId }}?k={{ settings.key }}&n={{ settings.n }}", TemplateURL},
		{"{{ settings.endpoint }}/track", TemplateURL},
		{"Bearer {{ settings.key }}", TemplateText},
		{"{{ basicAuth(settings.key, \"\") }}", TemplateText},
		{"{{ settings.missing }}", TemplateText},
		{"{{ email() }} {{ settings.n }}", TemplateText},
	}
	env := &Env{}
	for _, tc := range templates {
		tmpl, err := c.Template("url", tc.src, tc.mode)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		bound := tmpl.Bind(settings)
		if bound == tmpl {
			t.Errorf("%s: nothing bound, want its settings parts rendered", tc.src)
		}
		for _, ev := range events {
			env.Reset(ev, "src", settings)
			want, werr := tmpl.Render(env)
			got, gerr := bound.Render(env)
			if got != want || (werr == nil) != (gerr == nil) {
				t.Errorf("%s: bound renders %q (%v), unbound %q (%v)", tc.src, got, gerr, want, werr)
			}
		}
		for _, p := range bound.parts {
			if p.prog != nil && p.prog.settingsOnly {
				t.Errorf("%s: part %s left unbound", tc.src, p.prog.src)
			}
		}
	}
	// A failing settings-only part stays and fails at render.
	tmpl, err := c.Template("url", `{{ settings.endpoint }}/{{ required(settings.project, "settings.project") }}`, TemplateURL)
	if err != nil {
		t.Fatal(err)
	}
	bound := tmpl.Bind(settings)
	env.Reset(events[0], "src", settings)
	if _, err := bound.Render(env); err == nil || !strings.Contains(err.Error(), "settings.project is required") {
		t.Fatalf("bound template with a failing part renders with error %v, want the required error", err)
	}
	if len(bound.parts) != 2 || bound.parts[0].prog != nil || bound.parts[0].literal != "https://api.example.com/" {
		t.Fatalf("bound parts = %+v, want the endpoint and slash as one literal, then the failing part", bound.parts)
	}
}
