package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// JSON Schema (draft 2020-12) of switchyard.yaml and of destination files,
// generated from the config types so editors (yaml-language-server) flag
// what Load would refuse. The catalog's part comes in as plain data
// (ToolSchema): config imports nothing internal, so the caller converts
// destinations.Definition.

// Schema file names, as committed under docs/schema/ and written by
// `switchyard schema --out DIR`.
const (
	GlobalSchemaFile      = "switchyard.schema.json"
	DestinationSchemaFile = "destination.schema.json"
)

// SchemaBaseURL is where the committed schemas are published; it prefixes
// their $id.
const SchemaBaseURL = "https://raw.githubusercontent.com/switchyard/switchyard/main/docs/schema/"

const schemaDraft = "https://json-schema.org/draft/2020-12/schema"

// BuiltinTypes are the destination types that are not catalog tools.
var BuiltinTypes = []string{"webhook", "http"}

// ToolSchema is what the destination schema needs of one catalog tool.
type ToolSchema struct {
	Name, Title, Description string
	Settings                 []ToolSetting
	// Presets are the tool's preset names.
	Presets []string
}

// ToolSetting is one setting of a tool, in JSON Schema's terms: the
// catalog (destinations.SettingFormat) owns what a setting's format means
// and says it here, so this package needs no table of catalog formats.
type ToolSetting struct {
	Name, Description string
	// Type is the JSON type of a literal value: string, number or boolean.
	Type string
	// Format is the JSON Schema format of a string ("uri", "email"), if any.
	Format           string
	Required, Secret bool
	Enum             []string
	Default          any
}

// Patterns shared by both schemas. They are written to work both as Go
// regexps (the test validator) and as ECMA-262 ones with the u flag
// (editors).
const (
	// envRefPattern is one ${VAR} or ${VAR:-default} reference, not the
	// $${ escape.
	envRefPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`
	// envWholePattern: the whole value is a reference (typed keys: a bool
	// or a number written as ${VAR}).
	envWholePattern = `^` + envRefPattern + `$`
	// envInPattern: the value holds a reference (secrets).
	envInPattern = `(^|[^$])` + envRefPattern
	// durationPattern accepts what ParseDuration accepts: Go durations
	// ("1h30m", "250ms"), whole or fractional days ("7d", "1.5d"), or a
	// string holding an ${ENV} reference.
	durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+|([0-9]+(\.[0-9]*)?|\.[0-9]+)d|.*` + envRefPattern + `.*)$`
	// rfc3339Pattern is an RFC 3339 time as time.RFC3339 parses it.
	rfc3339Pattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`
)

const (
	exprNote   = " An expression (expr-lang) over the event; ${ENV} is not expanded in expressions: put the value in settings and use settings.<key>."
	fieldsNote = " Any YAML value: string leaves are expressions over the event (${ENV} is not expanded in them; use settings.<key>), numbers and booleans are literals, and a leaf that evaluates to nil is omitted."
	secretNote = " Secret: write it as an ${ENV} reference, not the value."
)

// node is one schema. Fields are in the order they are printed.
type node struct {
	Schema               string   `json:"$schema,omitempty"`
	ID                   string   `json:"$id,omitempty"`
	Ref                  string   `json:"$ref,omitempty"`
	Title                string   `json:"title,omitempty"`
	Description          string   `json:"description,omitempty"`
	Type                 any      `json:"type,omitempty"`
	Const                any      `json:"const,omitempty"`
	Enum                 []any    `json:"enum,omitempty"`
	Format               string   `json:"format,omitempty"`
	Pattern              string   `json:"pattern,omitempty"`
	MinLength            *int     `json:"minLength,omitempty"`
	Minimum              *float64 `json:"minimum,omitempty"`
	Maximum              *float64 `json:"maximum,omitempty"`
	MaxItems             *int     `json:"maxItems,omitempty"`
	Default              any      `json:"default,omitempty"`
	Examples             []any    `json:"examples,omitempty"`
	AnyOf                []*node  `json:"anyOf,omitempty"`
	Items                *node    `json:"items,omitempty"`
	Properties           *props   `json:"properties,omitempty"`
	Required             []string `json:"required,omitempty"`
	PropertyNames        *node    `json:"propertyNames,omitempty"`
	AdditionalProperties any      `json:"additionalProperties,omitempty"` // bool or *node
	Not                  *node    `json:"not,omitempty"`
	If                   *node    `json:"if,omitempty"`
	Then                 *node    `json:"then,omitempty"`
	AllOf                []*node  `json:"allOf,omitempty"`
	Defs                 *props   `json:"$defs,omitempty"`
}

// props is an object of schemas that keeps its keys in insertion order, so
// properties print in the order of the struct fields.
type props struct {
	keys []string
	vals map[string]*node
}

func (p *props) set(k string, n *node) {
	if p.vals == nil {
		p.vals = map[string]*node{}
	}
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = n
}

func (p *props) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range p.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshal(p.vals[k], "")
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshal(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // descriptions hold <source> and &&
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func ptr[T any](v T) *T { return &v }

func ref(name string) *node { return &node{Ref: "#/$defs/" + name} }

// generator walks the config types, collecting each struct type once under
// $defs.
type generator struct {
	defs *props
	seen map[reflect.Type]bool
}

func newGenerator() *generator {
	g := &generator{defs: &props{}, seen: map[reflect.Type]bool{}}
	g.defs.set("duration", &node{Type: "string", Pattern: durationPattern,
		Description: "A duration: Go's units (ns, us, ms, s, m, h, combined as in 1h30m) or days (7d), or an ${ENV} reference."})
	return g
}

// typeSchema is the schema of a Go type as the strict decoder reads it.
func (g *generator) typeSchema(t reflect.Type) *node {
	if t == durationType {
		return ref("duration")
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem())
	case reflect.Struct:
		if !g.seen[t] {
			g.seen[t] = true
			g.defs.set(t.Name(), nil) // parents before children in $defs
			g.defs.set(t.Name(), g.structSchema(t))
		}
		return ref(t.Name())
	case reflect.Map:
		return &node{Type: "object", AdditionalProperties: g.typeSchema(t.Elem())}
	case reflect.Slice:
		return &node{Type: "array", Items: g.typeSchema(t.Elem())}
	case reflect.Interface:
		return &node{}
	case reflect.String:
		return &node{Type: "string"}
	case reflect.Bool:
		return &node{Type: []string{"boolean", "string"}, Pattern: envWholePattern}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint64:
		return &node{Type: []string{"integer", "string"}, Minimum: ptr(0.0), Pattern: envWholePattern}
	case reflect.Uint32:
		return &node{Type: []string{"integer", "string"}, Minimum: ptr(0.0), Maximum: ptr(float64(1<<32 - 1)), Pattern: envWholePattern}
	case reflect.Float64:
		return &node{Type: []string{"number", "string"}, Minimum: ptr(0.0), Pattern: envWholePattern}
	}
	panic(fmt.Sprintf("config schema: unsupported type %s", t))
}

// structSchema is an object with one property per yaml key and no others,
// as strict as the decoder.
func (g *generator) structSchema(t reflect.Type) *node {
	n := &node{Type: "object", Properties: &props{}, AdditionalProperties: false}
	for _, f := range yamlFields(t) {
		n.Properties.set(f.key, g.fieldSchema(t, f))
	}
	n.Required = requiredKeys[t.Name()]
	return n
}

// yamlField is one key of a config struct.
type yamlField struct {
	key string
	reflect.StructField
}

func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		out = append(out, yamlField{key, f})
	}
	return out
}

// fieldSchema is a key's type schema plus its doc, default, enum and example.
func (g *generator) fieldSchema(owner reflect.Type, f yamlField) *node {
	n := g.typeSchema(f.Type)
	desc := f.Tag.Get("doc")
	if f.Tag.Get("expr") == "true" {
		if f.Type.Kind() == reflect.Interface {
			desc += fieldsNote
		} else {
			desc += exprNote
		}
	}
	if enum := f.Tag.Get("enum"); enum != "" {
		var values []any
		for _, v := range strings.Split(enum, ",") {
			values = append(values, v)
		}
		n = &node{Type: "string", AnyOf: []*node{{Enum: values}, {Pattern: envWholePattern}}}
	}
	if def, ok := f.Tag.Lookup("default"); ok {
		desc += " Default: " + def + "."
		n.Default = typedValue(f.Type, def)
	}
	if ex, ok := f.Tag.Lookup("example"); ok {
		n.Examples = []any{typedValue(f.Type, ex)}
	}
	n.Description = strings.TrimSpace(desc)
	if refine := refinements[owner.Name()+"."+f.key]; refine != nil {
		refine(n)
	}
	return n
}

// typedValue reads a default or example tag as the JSON value it stands for.
func typedValue(t reflect.Type, s string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return s
	}
	switch t.Kind() {
	case reflect.Bool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	case reflect.Float64:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return s
}

// requiredKeys are keys Load refuses to go without.
var requiredKeys = map[string][]string{
	"Source": {"name"},
}

// refinements encode checks of load.go that the tags cannot carry, by
// "Struct.key".
var refinements = map[string]func(*node){
	"Source.name":      namePattern,
	"Destination.name": namePattern,
	"Destination.sources": func(n *node) {
		namePattern(n.Items)
	},
	"Destination.start": func(n *node) {
		n.AnyOf = []*node{{Enum: []any{"new", "all"}}, {Pattern: rfc3339Pattern, Format: "date-time"}, {Pattern: envWholePattern}}
		n.Examples = []any{"all", "2026-01-02T15:04:05Z"}
	},
	"Destination.actions": func(n *node) {
		n.PropertyNames = &node{Pattern: NamePattern.String()}
	},
	"Embedded.sync_interval": func(n *node) {
		n.AnyOf = []*node{{Enum: []any{"always"}}, {Pattern: durationPattern}}
	},
	"Streams.replicas":         func(n *node) { n.Maximum = ptr(5.0) },
	"Destination.sample":       func(n *node) { n.Maximum = ptr(1.0) },
	"Action.users_per_request": func(n *node) { n.Maximum = ptr(float64(MaxRegulationUsers)) },
	"Batch.max_items":          func(n *node) { n.Maximum = ptr(100_000.0) },
	"Batch.max_bytes":          func(n *node) { n.Maximum = ptr(float64(64 << 20)) },
}

func namePattern(n *node) { n.Pattern = NamePattern.String() }

// root builds the schema of a whole file from its top-level struct.
func (g *generator) root(t reflect.Type, file, title, desc string) *node {
	n := g.structSchema(t)
	n.Schema, n.ID, n.Title, n.Description = schemaDraft, SchemaBaseURL+file, title, desc
	return n
}

// GlobalSchema returns the JSON Schema of switchyard.yaml.
func GlobalSchema() ([]byte, error) {
	g := newGenerator()
	n := g.root(reflect.TypeOf(Global{}), GlobalSchemaFile, "switchyard.yaml",
		"The global config of switchyard: NATS, streams, listeners, sources, limits and delivery defaults. Generated from config/types.go.")
	n.Defs = g.defs
	return marshalSchema(n)
}

// DestinationSchema returns the JSON Schema of a destination file
// (destinations/*.yaml), with the settings and presets of each tool.
func DestinationSchema(tools []ToolSchema) ([]byte, error) {
	tools = append([]ToolSchema(nil), tools...)
	sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
	g := newGenerator()
	n := g.root(reflect.TypeOf(Destination{}), DestinationSchemaFile, "switchyard destination",
		"One destination: a file in destinations/. Generated from config/types.go and the catalog's tool definitions.")
	n.Required = []string{"type"}

	types := []any{}
	for _, t := range BuiltinTypes {
		types = append(types, t)
	}
	for _, t := range tools {
		types = append(types, t.Name)
	}
	n.Properties.vals["type"].Enum = types
	n.Properties.vals["type"].Type = "string"

	n.AllOf = append(n.AllOf, whenType("webhook", webhookSettings()), whenType("http", httpSettings()))
	for _, t := range tools {
		then, err := toolSchema(t)
		if err != nil {
			return nil, err
		}
		n.AllOf = append(n.AllOf, whenType(t.Name, then))
	}
	n.Defs = g.defs
	return marshalSchema(n)
}

func marshalSchema(n *node) ([]byte, error) {
	b, err := marshal(n, "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func whenType(name string, then *node) *node {
	return &node{
		If:   &node{Properties: &props{keys: []string{"type"}, vals: map[string]*node{"type": {Const: name}}}, Required: []string{"type"}},
		Then: then,
	}
}

func one(k string, n *node) *props {
	p := &props{}
	p.set(k, n)
	return p
}

// urlValue is an http(s) URL, or a string holding an ${ENV} reference
// (format: uri alone would reject "${HOOK_URL}").
func urlValue(desc string) *node {
	return &node{Type: "string", Description: desc, AnyOf: []*node{
		{Format: "uri", Pattern: `^https?://[^/?#\s]+`},
		{Pattern: envInPattern},
	}}
}

// webhookSettings mirror the router's webhook checks: url required, no
// other keys than url, headers and secret, and a secret from the environment.
func webhookSettings() *node {
	s := &node{Type: "object", Description: "webhook settings.", Properties: &props{}, Required: []string{"url"}, AdditionalProperties: false}
	s.Properties.set("url", urlValue("Where events are POSTed; an action's url overrides it."))
	s.Properties.set("headers", &node{Type: "object", Description: "Headers sent with every request; values may hold ${ENV} references.", AdditionalProperties: &node{Type: "string"}})
	s.Properties.set("secret", &node{Type: "string", Pattern: envInPattern,
		Description: "Standard Webhooks signing secret (whsec_ followed by base64): requests carry webhook-id, webhook-timestamp and webhook-signature." + secretNote})
	then := &node{Properties: one("type", &node{Description: "Webhook: forward events as they came (signed as Standard Webhooks when a secret is set), or map them with actions."}), Required: []string{"settings"}}
	then.Properties.set("settings", s)
	return noPresets(then)
}

// httpSettings are free-form: expressions and templates read them as
// settings.<key>.
func httpSettings() *node {
	s := &node{Type: "object", Description: "http settings are free-form: each is available to expressions and templates as settings.<key>. Put secrets here as ${ENV} references."}
	then := &node{Properties: one("type", &node{Description: "HTTP: actions give the method, URL, headers and body; for any tool not in the catalog."})}
	then.Properties.set("settings", s)
	return noPresets(then)
}

// noPresets: only catalog tools have presets to enable or extend.
func noPresets(then *node) *node {
	then.Properties.set("presets", &node{MaxItems: ptr(0), Description: "Only catalog tools have presets."})
	then.Properties.set("actions", &node{AdditionalProperties: &node{Properties: one("extends",
		&node{Description: "extends needs a catalog tool.", Not: &node{}})}})
	return then
}

// toolSchema is what `type: <tool>` implies: the tool's settings (unknown
// ones refused, required ones present) and its preset names.
func toolSchema(t ToolSchema) (*node, error) {
	settings := &node{Type: "object", Description: "Settings of " + t.Title + ".", Properties: &props{}, AdditionalProperties: false}
	for _, s := range t.Settings {
		n, err := settingSchema(s)
		if err != nil {
			return nil, fmt.Errorf("tool %s: setting %s: %w", t.Name, s.Name, err)
		}
		settings.Properties.set(s.Name, n)
		// The router fills a missing setting from its default.
		if s.Required && s.Default == nil {
			settings.Required = append(settings.Required, s.Name)
		}
	}
	then := &node{Properties: &props{}}
	then.Properties.set("type", &node{Description: strings.TrimSpace(t.Title + ": " + t.Description)})
	then.Properties.set("settings", settings)
	if len(settings.Required) > 0 {
		then.Required = []string{"settings"}
	}
	if len(t.Presets) == 0 {
		then.Properties.set("presets", &node{MaxItems: ptr(0), Description: t.Title + " has no presets."})
		return then, nil
	}
	var names []any
	for _, p := range t.Presets {
		names = append(names, p)
	}
	then.Properties.set("presets", &node{Items: &node{Enum: names}})
	then.Properties.set("actions", &node{AdditionalProperties: &node{Properties: one("extends", &node{Enum: names})}})
	return then, nil
}

func settingSchema(s ToolSetting) (*node, error) {
	n := &node{}
	desc := s.Description
	switch {
	case s.Type == "number", s.Type == "boolean":
		n.Type = s.Type // the router wants a YAML literal: an ${ENV} string is refused
	case s.Type != "" && s.Type != "string":
		return nil, fmt.Errorf("unknown type %q", s.Type)
	case s.Format == "uri":
		n = urlValue("")
	case s.Format == "email":
		n.Type, n.AnyOf = "string", []*node{{Format: "email", Pattern: "@"}, {Pattern: envInPattern}}
	case s.Format != "":
		return nil, fmt.Errorf("unknown string format %q", s.Format)
	default:
		n.Type = "string"
	}
	if len(s.Enum) > 0 {
		var values []any
		for _, e := range s.Enum {
			values = append(values, e)
		}
		n.Type, n.AnyOf = "string", []*node{{Enum: values}, {Pattern: envWholePattern}}
		desc += " One of: " + strings.Join(s.Enum, ", ") + "."
	}
	if s.Secret {
		n.Type, n.Pattern = "string", envInPattern
		desc += secretNote
	}
	if s.Default != nil {
		desc += fmt.Sprintf(" Default: %v.", s.Default)
		n.Default = s.Default
	}
	if s.Required && s.Default == nil && n.Type == "string" {
		n.MinLength = ptr(1) // the router counts "" as missing
	}
	n.Description = strings.TrimSpace(desc)
	return n, nil
}
