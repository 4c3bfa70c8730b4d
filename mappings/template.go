package mappings

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Template is a string with {{ expression }} interpolations, used for URLs
// and header values: "Bearer {{ settings.api_key }}". Fields leaves are pure
// expressions; templates exist because a URL or header is mostly literal text.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	literal string
	prog    *Program
	escape  func(string) string // nil: inserted as is
}

// TemplateMode says how interpolated values are escaped.
type TemplateMode int

const (
	// TemplateText inserts values as they are (headers).
	TemplateText TemplateMode = iota
	// TemplateURL inserts a value that opens the template as is (a base URL
	// such as {{ settings.endpoint }}), path-escapes values in the path and
	// query-escapes values after '?', so that an id cannot change the route.
	TemplateURL
)

// Template compiles a template. Errors carry the column inside src.
func (c *Compiler) Template(path, src string, mode TemplateMode) (*Template, error) {
	t := &Template{src: src}
	rest, offset := src, 0
	inQuery := false
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{literal: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{literal: rest[:i]})
			inQuery = inQuery || strings.Contains(rest[:i], "?")
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, &ExprError{Path: path, Source: src, Line: 1, Column: offset + i + 1, Message: "unclosed {{"}
		}
		inner := rest[i+2 : i+j]
		p, err := c.Expr(path, strings.TrimSpace(inner))
		if err != nil {
			ee := err.(*ExprError)
			lead := len(inner) - len(strings.TrimLeft(inner, " \t"))
			ee.Source = src
			if ee.Line <= 1 {
				ee.Line, ee.Column = 1, offset+i+2+lead+ee.Column
			}
			return nil, ee
		}
		part := templatePart{prog: p}
		if mode == TemplateURL && (offset+i > 0) {
			part.escape = url.PathEscape
			if inQuery {
				part.escape = url.QueryEscape
			}
		}
		t.parts = append(t.parts, part)
		offset += i + j + 2
		rest = rest[i+j+2:]
	}
}

// Bind returns the template with its settings-only parts (purity.go)
// rendered for settings, as literal text: a plan's settings are fixed once
// it is built, and those parts then yield the same text for every event. A
// part that fails is left to fail at each render, as before. t itself is
// unchanged; it is returned as is when it has no such part.
func (t *Template) Bind(settings map[string]any) *Template {
	if t == nil {
		return nil
	}
	var env *Env
	out := &Template{src: t.src, parts: make([]templatePart, 0, len(t.parts))}
	bound := false
	for _, p := range t.parts {
		if p.prog != nil && p.prog.settingsOnly {
			if env == nil {
				env = SettingsEnv(settings)
			}
			if v, err := p.prog.Eval(env); err == nil {
				s := Stringify(v)
				if p.escape != nil {
					s = p.escape(s)
				}
				p = templatePart{literal: s}
				bound = true
			}
		}
		if n := len(out.parts); p.prog == nil && n > 0 && out.parts[n-1].prog == nil {
			out.parts[n-1].literal += p.literal
			continue
		}
		out.parts = append(out.parts, p)
	}
	if !bound {
		return t
	}
	return out
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Render evaluates the template. A nil value renders as the empty string.
func (t *Template) Render(env *Env) (string, error) {
	switch {
	case len(t.parts) == 0:
		return "", nil
	case len(t.parts) == 1 && t.parts[0].prog == nil:
		return t.parts[0].literal, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.literal)
			continue
		}
		v, err := p.prog.Eval(env)
		if err != nil {
			return "", err
		}
		s := Stringify(v)
		if p.escape != nil {
			s = p.escape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// Stringify prints a value the way tools expect it in text: strings as they
// are, whole numbers without a decimal point, times in ISO-8601, and
// anything else as JSON. nil is the empty string.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case time.Time:
		return FormatTimestamp(x)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
