package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos returns where a key path of the destination file is written, for
// example "settings.api_key" or "actions.track.fields.time". For a path
// that is not written, it returns its nearest written ancestor.
func (d *Destination) Pos(path string) Pos {
	return lookupPos(d.File, d.pos, path)
}

// Has reports whether a key path is written in the file.
func (d *Destination) Has(path string) bool {
	_, ok := d.pos[path]
	return ok
}

func lookupPos(file string, m map[string]scalarPos, path string) Pos {
	for {
		if p, ok := m[path]; ok {
			return Pos{File: file, Line: p.Line, Col: p.Col}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if p, ok := m[""]; ok {
				return Pos{File: file, Line: p.Line, Col: p.Col}
			}
			return Pos{File: file, Line: 1, Col: 1}
		}
		path = path[:i]
	}
}

// ExprPos returns the file position of line:col inside the expression
// written at path (both 1-based, as expression errors report them).
func (c *Config) ExprPos(d *Destination, path string, line, col int) Pos {
	p, ok := d.pos[path]
	if !ok {
		return d.Pos(path)
	}
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	switch p.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the | or >, at its indentation.
		// The block's indentation is that of its first line.
		ln := p.Line + line
		indent := 0
		if lines := c.lines[d.File]; p.Line < len(lines) {
			l := lines[p.Line]
			indent = len(l) - len(strings.TrimLeft(l, " "))
		}
		return Pos{File: d.File, Line: ln, Col: indent + col}
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line == 1 {
			return Pos{File: d.File, Line: p.Line, Col: p.Col + col}
		}
	}
	if line == 1 {
		return Pos{File: d.File, Line: p.Line, Col: p.Col + col - 1}
	}
	return Pos{File: d.File, Line: p.Line + line - 1, Col: col}
}
