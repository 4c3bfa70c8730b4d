package destinations

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FieldRow is one line of a preset's field table: which tool field is fed
// by which expression over the Segment event.
type FieldRow struct {
	Field string // tool field path, for example "purchases[].price"
	Expr  string // the expression (Segment side)
}

// FieldRows flattens a preset's fields tree into rows, sorted by field.
func (p *Preset) FieldRows() []FieldRow { return fieldRows(p.Fields) }

// fieldRows flattens a fields tree into rows, sorted by field.
func fieldRows(fields any) []FieldRow {
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
	walk("", fields)
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
		if p.Rate != nil && p.Rate.RPS > 0 {
			fmt.Fprintf(&b, "Rate limit of its own: %s requests/s", strconv.FormatFloat(p.Rate.RPS, 'f', -1, 64))
			if p.Rate.Note != "" {
				fmt.Fprintf(&b, " (%s)", strings.TrimSpace(p.Rate.Note))
			}
			b.WriteString(", within the destination's.\n\n")
		}
		if len(p.InsteadOf) > 0 {
			fmt.Fprintf(&b, "Sent instead of `%s`: a destination that enables it with any of them is refused, since each event would be sent twice.\n\n", strings.Join(p.InsteadOf, "`, `"))
		}
		b.WriteString("| tool field | from (expression over the Segment event) |\n| --- | --- |\n")
		for _, r := range p.FieldRows() {
			fmt.Fprintf(&b, "| `%s` | `%s` |\n", r.Field, cell(r.Expr))
		}
		if p.Docs != "" {
			fmt.Fprintf(&b, "\nAPI reference: %s\n", p.Docs)
		}
	}
	if r := d.Receipts; r != nil {
		delay, recheck, expiry, _ := r.Timing()
		fmt.Fprintf(&b, "\n### Receipts\n\nThe tickets of delivered messages are checked later (handler `%s`, docs/delivery.md#receipts): POST `%s` %s after sending, again every %s while pending, until %s after sending. The events stay delivered; each receipt is counted in `switchyard_receipts_total`.\n",
			r.Handler, cell(r.URL), shortDuration(delay), shortDuration(recheck), shortDuration(expiry))
	}
	d.deletionMarkdown(&b, cell)
	return b.String()
}

// deletionMarkdown describes how a regulation's delete reaches the tool
// (docs/privacy.md).
func (d *Definition) deletionMarkdown(b *strings.Builder, cell func(string) string) {
	b.WriteString("\n### Deletion\n\n")
	if d.Deletion.Unsupported != "" {
		fmt.Fprintf(b, "Not supported: a regulation's deletion is reported `not_supported` here. %s\n", strings.TrimSpace(d.Deletion.Unsupported))
		return
	}
	b.WriteString("A regulation that deletes users (`switchyard regulate delete`, docs/privacy.md) sends these delete actions, through the destination's sender, breaker and retries.\n\n")
	b.WriteString("| delete action | when | request | users per request |\n| --- | --- | --- | --- |\n")
	for _, a := range d.Deletion.Actions {
		method, url := a.Request.Method, a.Request.URL
		if method == "" {
			method = d.Request.Method
		}
		if method == "" {
			method = "POST"
		}
		if url == "" {
			url = d.Request.URL
		}
		when := a.Trigger
		if when == "" {
			when = "every deletion"
		} else {
			when = "`" + cell(when) + "`"
		}
		req := fmt.Sprintf("%s `%s`", method, cell(url))
		if a.Lookup != nil {
			lm := a.Lookup.Request.Method
			if lm == "" {
				lm = "GET"
			}
			req = fmt.Sprintf("%s `%s`, then %s", lm, cell(a.Lookup.Request.URL), req)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %d |\n", a.Name, when, req, max(a.UsersPerRequest, 1))
	}
	for _, a := range d.Deletion.Actions {
		fmt.Fprintf(b, "\n#### %s", a.Name)
		if a.Title != "" {
			fmt.Fprintf(b, ": %s", a.Title)
		}
		b.WriteString("\n\n")
		if a.Description != "" {
			b.WriteString(strings.TrimSpace(a.Description) + "\n\n")
		}
		if rows := fieldRows(a.Fields); len(rows) > 0 {
			b.WriteString("| tool field | from (expression over users, regulation and settings) |\n| --- | --- |\n")
			for _, r := range rows {
				fmt.Fprintf(b, "| `%s` | `%s` |\n", r.Field, cell(r.Expr))
			}
		}
		if a.Rate != nil && a.Rate.RPS > 0 {
			fmt.Fprintf(b, "\nRate limit of its own: %s requests/s, within the destination's.\n", strconv.FormatFloat(a.Rate.RPS, 'f', -1, 64))
		}
		if len(a.Absent) > 0 {
			fmt.Fprintf(b, "\nAnswers meaning the tool holds no such user (finished, nothing to delete): %s.\n", joinInts(a.Absent))
		}
		if a.Docs != "" {
			fmt.Fprintf(b, "\nAPI reference: %s\n", a.Docs)
		}
	}
	for _, n := range d.Deletion.Notes {
		fmt.Fprintf(b, "\n%s\n", strings.TrimSpace(n))
	}
}

// shortDuration writes 15m, not 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
