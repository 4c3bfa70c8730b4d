package destinations

import (
	"fmt"
	"sort"
	"strings"
)

// FieldRow is one line of a preset's field table: which tool field is fed
// by which expression over the Segment event.
type FieldRow struct {
	Field string // tool field path, for example "purchases[].price"
	Expr  string // the expression (Segment side)
}

// FieldRows flattens a preset's fields tree into rows, sorted by field.
func (p *Preset) FieldRows() []FieldRow {
	var rows []FieldRow
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			rows = append(rows, FieldRow{Field: path, Expr: x})
		default:
			rows = append(rows, FieldRow{Field: path, Expr: fmt.Sprint(x)})
		}
	}
	walk("", p.Fields)
	return rows
}

// Markdown describes the tool for its README and `switchyard catalog TOOL`:
// settings, presets with their triggers, and each preset's field table.
func (d *Definition) Markdown() string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	fmt.Fprintf(&b, "### Settings\n\n| setting | required | secret | format | default | description |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range d.Settings {
		format := s.Format
		if f := s.FormatOf(); f != nil {
			format = f.Name
		}
		if len(s.Enum) > 0 {
			format += ": " + strings.Join(s.Enum, ", ")
		}
		def := ""
		if s.Default != nil {
			def = fmt.Sprint(s.Default)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", s.Name, yesNo(s.Required), yesNo(s.Secret), format, cell(def), cell(s.Description))
	}
	if d.Endpoints != nil {
		fmt.Fprintf(&b, "\n`settings.endpoint` follows `%s`:", d.Endpoints.Setting)
		keys := make([]string, 0, len(d.Endpoints.Values))
		for k := range d.Endpoints.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " `%s` → %s;", k, d.Endpoints.Values[k])
		}
		b.WriteString(" set `endpoint` to override.\n")
	}
	b.WriteString("\n### Actions\n\n| preset | default | trigger | request | batching |\n| --- | --- | --- | --- | --- |\n")
	for _, p := range d.Presets {
		method, url := p.Request.Method, p.Request.URL
		if method == "" {
			method = d.Request.Method
		}
		if method == "" {
			method = "POST"
		}
		if url == "" {
			url = d.Request.URL
		}
		batch := "one event per request"
		bd := p.Batch
		if bd == nil {
			bd = d.Batch
		}
		if bd != nil && !bd.Disabled {
			batch = fmt.Sprintf("up to %d events", bd.MaxItems)
			if bd.Key != "" {
				batch += " in `" + bd.Key + "`"
			}
		}
		trig := p.Trigger
		if p.ForEach != "" {
			trig += "; one per `" + p.ForEach + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s `%s` | %s |\n", p.Name, yesNo(p.Default), cell(trig), method, cell(url), batch)
	}
	for _, p := range d.Presets {
		fmt.Fprintf(&b, "\n#### %s", p.Name)
		if p.Title != "" {
			fmt.Fprintf(&b, ": %s", p.Title)
		}
		b.WriteString("\n\n")
		if p.Description != "" {
			b.WriteString(p.Description + "\n\n")
		}
		b.WriteString("| tool field | from (expression over the Segment event) |\n| --- | --- |\n")
		for _, r := range p.FieldRows() {
			fmt.Fprintf(&b, "| `%s` | `%s` |\n", r.Field, cell(r.Expr))
		}
		if p.Docs != "" {
			fmt.Fprintf(&b, "\nAPI reference: %s\n", p.Docs)
		}
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
