package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// scalarPos is where a value is written, with what the expression checks
// need to turn a column inside an expression into a column in the file.
type scalarPos struct {
	Line, Col int
	Style     yaml.Style
}

// decoder turns a yaml.Node into the config types, strictly: every unknown
// key, wrong type and bad env reference becomes a Diagnostic at its place.
type decoder struct {
	file  string
	diags Diagnostics
	pos   map[string]scalarPos
	env   *envExpander
	// expanding holds the anchored nodes being decoded through an alias or
	// a merge key: meeting one again is a cycle (an alias inside the node
	// it names). expanded counts the values decoded through aliases, so a
	// small file cannot expand exponentially (a "billion laughs").
	expanding map[*yaml.Node]bool
	expanded  int
}

// maxAliasValues bounds the values one file may expand to through aliases.
const maxAliasValues = 10_000

// enterAlias resolves an alias (or a merge key's value) and marks its
// target as being expanded; ok is false, with a diagnostic, for a cycle or
// past maxAliasValues. The caller calls leaveAlias(target) when done.
func (d *decoder) enterAlias(n *yaml.Node) (target *yaml.Node, ok bool) {
	t := n
	for t != nil && t.Kind == yaml.AliasNode {
		t = t.Alias
	}
	if t == nil || d.expanding[t] {
		d.errorf(n, "alias *%s refers to a value that contains it", n.Value)
		return nil, false
	}
	if d.expanding == nil {
		d.expanding = map[*yaml.Node]bool{}
	}
	d.expanding[t] = true
	return t, true
}

func (d *decoder) leaveAlias(t *yaml.Node) { delete(d.expanding, t) }

// budget counts a value decoded inside an alias; false past the bound.
func (d *decoder) budget(n *yaml.Node) bool {
	if len(d.expanding) == 0 {
		return true
	}
	d.expanded++
	if d.expanded == maxAliasValues+1 {
		d.errorf(n, "aliases expand to more than %d values", maxAliasValues)
	}
	return d.expanded <= maxAliasValues
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: Pos{File: d.file, Line: n.Line, Col: n.Column}, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) record(path string, n *yaml.Node) {
	if d.pos != nil {
		d.pos[path] = scalarPos{Line: n.Line, Col: n.Column, Style: n.Style}
	}
}

var durationType = reflect.TypeOf(Duration(0))

// decode fills v from n. expr marks values that are expressions: they are
// not env-expanded (use settings in expressions instead).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, expr bool) {
	if n.Kind == yaml.AliasNode {
		t, ok := d.enterAlias(n)
		if ok {
			d.decode(t, v, path, expr)
			d.leaveAlias(t)
		}
		return
	}
	if !d.budget(n) {
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path, expr)
		return
	}
	d.record(path, n)
	if n.Tag == "!!null" && v.Kind() != reflect.Interface {
		return // an explicit null leaves the default
	}
	switch v.Type() {
	case durationType:
		s, ok := d.scalar(n, path, "a duration such as 30s, 10m, 4h or 7d")
		if !ok {
			return
		}
		dur, err := ParseDuration(d.expand(n, s, path))
		if err != nil {
			d.errorf(n, "%s: %v", path, err)
			return
		}
		v.Set(reflect.ValueOf(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, expr)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path, expr)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "%s: want a list", path)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i), expr)
		}
		v.Set(s)
	case reflect.Interface:
		if t := d.tree(n, path, expr); t != nil {
			v.Set(reflect.ValueOf(t))
		} else {
			v.SetZero() // a null (or empty) value: reflect.ValueOf(nil) cannot be set
		}
	case reflect.String:
		s, ok := d.scalar(n, path, "a string")
		if !ok {
			return
		}
		if !expr {
			s = d.expand(n, s, path)
		}
		v.SetString(s)
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(d.expand(n, s, path))
		if err != nil {
			d.errorf(n, "%s: want true or false, got %q", path, s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(d.expand(n, s, path), "_", ""), 10, 64)
		if err != nil || i < 0 {
			d.errorf(n, "%s: want a whole number ≥ 0, got %q", path, s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseUint(strings.ReplaceAll(d.expand(n, s, path), "_", ""), 10, 64)
		if err != nil {
			d.errorf(n, "%s: want a whole number ≥ 0, got %q", path, s)
			return
		}
		v.SetUint(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(d.expand(n, s, path), 64)
		if err != nil || f < 0 {
			d.errorf(n, "%s: want a number ≥ 0, got %q", path, s)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, "%s: unsupported config type %s", path, v.Type())
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: want %s, got %s", path, want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) expand(n *yaml.Node, s, path string) string {
	if d.env == nil {
		return s
	}
	out, err := d.env.expand(s, path)
	if err != nil {
		d.errorf(n, "%s: %v", path, err)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mappingPairs returns the key/value pairs of a mapping, with merge keys
// (<<) resolved, reporting duplicate keys.
func (d *decoder) mappingPairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var pairs [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			t, ok := d.enterAlias(val)
			if !ok {
				continue
			}
			if t.Kind == yaml.MappingNode {
				for _, p := range d.mappingPairs(t, path) {
					if !seen[p[0].Value] {
						pairs = append(pairs, p)
					}
				}
			}
			d.leaveAlias(t)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s: key %q is set twice", path, k.Value)
			continue
		}
		seen[k.Value] = true
		pairs = append(pairs, [2]*yaml.Node{k, val})
	}
	return pairs
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping of keys, got %s", orTop(path), kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		known = append(known, name)
	}
	for _, p := range d.mappingPairs(n, path) {
		k, val := p[0], p[1]
		i, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, orTop(path))
			if s := Suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				sort.Strings(known)
				msg += " (known keys: " + strings.Join(known, ", ") + ")"
			}
			d.errorf(k, "%s", msg)
			continue
		}
		f := t.Field(i)
		d.decode(val, v.Field(i), joinKey(path, k.Value), f.Tag.Get("expr") == "true")
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, expr bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", path, kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, p := range d.mappingPairs(n, path) {
		k, val := p[0], p[1]
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, joinKey(path, k.Value), expr)
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

// tree decodes a free-form value: mappings, lists and scalars typed the way
// YAML types them. Strings are env-expanded unless they are expressions.
func (d *decoder) tree(n *yaml.Node, path string, expr bool) any {
	if n.Kind == yaml.AliasNode {
		t, ok := d.enterAlias(n)
		if !ok {
			return nil
		}
		defer d.leaveAlias(t)
		n = t
	}
	if !d.budget(n) {
		return nil
	}
	d.record(path, n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, p := range d.mappingPairs(n, path) {
			m[p[0].Value] = d.tree(p[1], joinKey(path, p[0].Value), expr)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = d.tree(c, fmt.Sprintf("%s[%d]", path, i), expr)
		}
		return l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			b, _ := strconv.ParseBool(n.Value)
			return b
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return i
			}
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return f
			}
		}
		if expr {
			return n.Value
		}
		return d.expand(n, n.Value, path)
	}
	return nil
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// Suggest returns the known name closest to k when it is a likely typo
// (within two edits), or "": the did-you-mean of every config error, key
// or value.
func Suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
