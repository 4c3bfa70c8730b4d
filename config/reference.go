package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference renders docs/configuration.md: an introduction, complete example
// files, and one key table per config struct, generated from the same
// types (and tags) the loader and the JSON Schema use, so a key cannot be
// added without appearing here.
func Reference() string {
	var b strings.Builder
	b.WriteString(referenceIntro)
	b.WriteString("## Examples\n\nComplete files; each one loads as it is (a test loads every block below).\n")
	for _, ex := range referenceExamples {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n```yaml\n%s```\n", ex.title, ex.note, ex.body)
	}

	w := &refWalker{homes: map[reflect.Type]string{}}
	dest, global := reflect.TypeOf(Destination{}), reflect.TypeOf(Global{})
	// A struct type is described once, at its home; elsewhere its row links
	// there. Delivery's home is the destination file (defaults.delivery in
	// switchyard.yaml takes the same keys), and its batch is delivery.batch.
	w.homes[reflect.TypeOf(Delivery{})] = "delivery"
	w.assign(reflect.TypeOf(Delivery{}), "delivery")
	w.assign(dest, "")
	w.assign(global, "")

	b.WriteString("\n## switchyard.yaml\n\nThe global file. Every key is optional; an absent file means every default.\n\n")
	w.render(&b, global, "")
	b.WriteString("\n## Destination files\n\nOne file per destination in `destinations/`. Only `type` is required.\n\n")
	w.render(&b, dest, "")
	return b.String()
}

// refWalker assigns each nested struct type a home section and renders the
// sections depth first.
type refWalker struct {
	homes map[reflect.Type]string
}

// nested returns the struct type a key holds (through pointers, lists and
// maps) and the key path of its section.
func nested(f yamlField, key string) (reflect.Type, string) {
	t, child := f.Type, joinKey(key, f.key)
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Slice:
			t, child = t.Elem(), child+"[]"
			continue
		case reflect.Map:
			t, child = t.Elem(), child+".<name>"
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct {
		return nil, ""
	}
	return t, child
}

func (w *refWalker) assign(t reflect.Type, key string) {
	for _, f := range yamlFields(t) {
		st, child := nested(f, key)
		if st == nil {
			continue
		}
		if _, ok := w.homes[st]; !ok {
			w.homes[st] = child
			w.assign(st, child)
		}
	}
}

func (w *refWalker) render(b *strings.Builder, t reflect.Type, key string) {
	if key != "" {
		fmt.Fprintf(b, "\n### `%s`\n\n", key)
	}
	b.WriteString("| key | type | default | description |\n| --- | --- | --- | --- |\n")
	for _, f := range yamlFields(t) {
		def := ""
		if d, ok := f.Tag.Lookup("default"); ok {
			def = "`" + d + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.key, w.typeName(f), def, cell(describe(f)))
	}
	if t == reflect.TypeOf(Destination{}) {
		b.WriteString(settingsByType)
	}
	for _, f := range yamlFields(t) {
		if st, child := nested(f, key); st != nil && w.homes[st] == child {
			w.render(b, st, child)
		}
	}
}

// typeName says what a key takes, linking to the section of a nested struct.
func (w *refWalker) typeName(f yamlField) string {
	link := func(st reflect.Type) string {
		home := w.homes[st]
		return fmt.Sprintf("[`%s`](#%s)", home, anchor(home))
	}
	if f.Tag.Get("expr") == "true" {
		if f.Type.Kind() == reflect.Interface {
			return "tree of expressions"
		}
		return "expression"
	}
	t := f.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Struct:
		return "object: " + link(t)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "list of " + link(t.Elem())
	case t.Kind() == reflect.Slice:
		return "list of " + scalarName(t.Elem()) + "s"
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		return "map of " + link(t.Elem())
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Interface:
		return "map"
	case t.Kind() == reflect.Map:
		return "map of " + scalarName(t.Elem()) + "s"
	}
	return scalarName(t)
}

func scalarName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Interface:
		return "any"
	}
	return "string"
}

// describe is a key's doc, with its allowed values and an example.
func describe(f yamlField) string {
	d := f.Tag.Get("doc")
	if enum := f.Tag.Get("enum"); enum != "" {
		var vals []string
		for _, v := range strings.Split(enum, ",") {
			if v != "" {
				vals = append(vals, "`"+v+"`")
			}
		}
		d += " One of " + strings.Join(vals, ", ") + "."
	}
	if ex, ok := f.Tag.Lookup("example"); ok {
		d += " Example: `" + ex + "`."
	}
	if f.Tag.Get("expr") == "true" {
		d += " Not `${ENV}`-expanded."
	}
	return d
}

// cell makes text safe in a table cell: pipes escaped, and < > outside
// code spans written as entities (GitHub drops <source> as an HTML tag).
func cell(s string) string {
	parts := strings.Split(strings.ReplaceAll(s, "\n", " "), "`")
	for i := 0; i < len(parts); i += 2 {
		parts[i] = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(parts[i])
	}
	return strings.ReplaceAll(strings.Join(parts, "`"), "|", `\|`)
}

// anchor is the id GitHub gives a heading: lower case, punctuation other
// than - and _ dropped, spaces as -.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// md lets the Markdown below sit in raw strings: ´ stands for a backtick.
func md(s string) string { return strings.ReplaceAll(s, "´", "`") }

var settingsByType = md(`
´settings´ depends on ´type´:

- **webhook**: ´url´ (required: where events are POSTed), ´headers´ (header values) and ´secret´
  (a Standard Webhooks signing secret, ´whsec_´ + base64, as an ´${ENV}´ reference). Without
  actions each event is forwarded as it came; with actions each action's ´fields´ is the body,
  posted to the action's ´url´ or the webhook's.
- **http**: free-form. Each setting is available to expressions and ´{{ }}´ templates as
  ´settings.<key>´. Every action needs a ´url´, and ´fields´ unless its method is GET or DELETE.
- **a catalog tool**: the tool's settings, as listed by ´switchyard catalog TOOL´ and in
  ´destinations/catalog/<tool>/README.md´. Required ones must be set, secret ones must be ´${ENV}´
  references, unknown ones are refused. ´presets´ and ´actions.<name>.extends´ take the tool's
  preset names; an action named like a preset overrides that preset's fields and trigger.
`)

var referenceIntro = md(`# Configuration reference

<!-- generated by config.Reference; go test ./config -update
     Do not edit by hand: change config/types.go (key tables) or config/reference.go (text and examples). -->

switchyard reads one config directory. The key tables below are generated from the Go types the
loader decodes (´config/types.go´), which also generate the JSON Schema editors use, so this page,
the loader and the schema describe the same keys.

## The config directory

´´´text
config/
├── switchyard.yaml          global: NATS, streams, listeners, sources, limits, defaults
└── destinations/
    ├── braze-prod.yaml      one destination per file
    └── orders-hook.yaml
´´´

- ´switchyard serve --config DIR´ runs it; ´switchyard validate --config DIR´ checks it, prints
  ´file:line:col: message´ for every error it finds and exits non-zero when there is one.
- ´switchyard.yaml´ may be absent: every default then applies (embedded NATS on 127.0.0.1:4222,
  admin listener on 127.0.0.1:8088).
- ´destinations/´ holds ´*.yaml´ and ´*.yml´ files, one destination each; hidden files and editor
  backups are skipped. A destination's name is its ´name´ key, or the file name without its
  extension. Destination and source names are lowercase letters, digits, ´-´ and ´_´ (at most 64
  characters): they appear in NATS subjects, consumer names (´dest_<name>´) and metric labels.
- Parsing is strict: an unknown key (with a suggestion for a likely typo), a wrong type, a bad
  duration or a key written twice is an error at its line and column. A file is at most 1 MiB.
- Durations are written as Go writes them (´250ms´, ´30s´, ´10m´, ´1h30m´) or in days (´7d´).
- Changes apply without a restart, on a file change (unless ´reload.watch: false´) or on SIGHUP.
  A config that does not validate is refused, logged and counted; the running one stays.

## Environment references

Any string value in either file may hold environment references, expanded when the file is loaded:

| written | becomes |
| --- | --- |
| ´${VAR}´ | the value of VAR; an unset VAR is an error at that key |
| ´${VAR:-default}´ | the value of VAR, or ´default´ when VAR is unset or empty |
| ´$${´ | a literal ´${´ |

- Typed keys take references too: ´replicas: ${STREAM_REPLICAS}´, ´timeout: ${HOOK_TIMEOUT:-10s}´.
- Secrets must be references: a catalog tool's secret settings and a webhook's ´secret´ are
  refused when written as values. Values that came from the environment are redacted from
  ´switchyard preview´, logs, the delivery sample and DLQ entries (except catalog settings
  declared plain, such as a region).
- Expressions are not expanded: ´filter´, ´trigger´, ´foreach´ and the string leaves of ´fields´
  keep ´${´ as written. Put the value in ´settings´ and read it from there: ´settings.api_key´ in
  an expression, ´{{ settings.api_key }}´ in a ´url´ or header template. (´url´ and ´headers´ are
  templates, not expressions: ´${VAR}´ in them is expanded at load, and their ´{{ }}´ parts are
  evaluated per event.)

## Editor support: JSON Schema

´docs/schema/switchyard.schema.json´ and ´docs/schema/destination.schema.json´ are JSON Schemas
generated from the same types and catalog definitions the loader uses. With an editor that runs
yaml-language-server (VS Code with Red Hat's YAML extension, Neovim's yamlls, Helix, Zed, and
others) you get key completion, each key's description on hover, and marks on unknown keys, bad
durations, unknown destination types, unknown presets, missing required settings and secrets
written as values. The schemas declare draft 2020-12 but use only keywords that draft-07
validators, such as yaml-language-server's, also apply (references point into ´$defs´ by JSON
pointer).

´switchyard schema --out DIR´ writes both files for the catalog built into your binary;
´switchyard schema´ alone prints the destination schema.

Point a file at its schema with a comment in its first lines, a path relative to the file or a
URL, as the files in ´examples/quickstart/´ do:

´´´text
# yaml-language-server: $schema=../schema/destination.schema.json
´´´

Or map them once for a workspace, in VS Code's ´.vscode/settings.json´ (paths relative to the
workspace folder, here after ´switchyard schema --out schema´):

´´´json
{
  "yaml.schemas": {
    "./schema/switchyard.schema.json": "**/switchyard.yaml",
    "./schema/destination.schema.json": "**/destinations/*.yaml"
  }
}
´´´

Leave no key empty while you type (´delivery:´ with nothing under it): the loader reads it as
unset, the schema marks it as the wrong type. Quote values YAML would read as another type
where the key wants a string (´name: "2024"´).

The schema is a help while typing; ´switchyard validate´ is the authority. It also compiles every
expression, resolves presets and overrides, and checks what a schema cannot express: URLs of
custom actions, duplicate names across files, sources declared in ´switchyard.yaml´, and the
catalog's per-tool rules.

`)

// referenceExample is one complete file shown in the reference. The first
// line of body names the file, relative to the config directory; the tests
// load every example from the rendered page.
type referenceExample struct {
	title, note, body string
}

var referenceExamples = []referenceExample{
	{"A global file", md("A production-style global file: an existing NATS cluster, JSON logs, the HTTP intake with one write key per source, and slower breakers for every destination."), `# switchyard.yaml
# yaml-language-server: $schema=` + SchemaBaseURL + GlobalSchemaFile + `
nats:
  url: nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222
  credentials: /etc/switchyard/switchyard.creds
streams:
  max_age: 7d
  duplicates: 2m
  replicas: 3
admin:
  listen: 0.0.0.0:8088
  token: ${SWITCHYARD_ADMIN_TOKEN}
log:
  level: info
  format: json
sources:
  - name: web
    write_keys:
      - ${WEB_WRITE_KEY}
  - name: ios
    write_keys:
      - ${IOS_WRITE_KEY}
ingest:
  enabled: true
  listen: 0.0.0.0:8080
reload:
  removed_grace: 48h
defaults:
  delivery:
    retry_window: 6h
    breaker:
      failures: 10
      cooldown: 1m
`},
	{"A webhook destination", md("Forwards every event except pages as it came, signed as a Standard Webhook, in batches of up to 100."), `# destinations/warehouse-hook.yaml
# yaml-language-server: $schema=` + SchemaBaseURL + DestinationSchemaFile + `
type: webhook
sources: [web, ios]
filter: type != "page"
settings:
  url: ${WAREHOUSE_HOOK_URL}
  secret: ${WAREHOUSE_HOOK_SECRET}
  headers:
    X-Team: data
delivery:
  timeout: 5s
  batch:
    max_items: 100
    linger: 2s
`},
	{"An http destination", md("Requests of your own design: a profile upsert per identify and one purchase per product of an order. Fields are expressions over the event; see docs/helpers.md for the helpers."), `# destinations/crm.yaml
# yaml-language-server: $schema=` + SchemaBaseURL + DestinationSchemaFile + `
type: http
sources: [web]
settings:
  base_url: https://crm.example.com/api
  api_key: ${CRM_API_KEY}
actions:
  profile:
    trigger: type == "identify"
    method: PUT
    url: "{{ settings.base_url }}/profiles/{{ userIdOrAnonymousId() }}"
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      email: email()
      first_name: firstName()
      last_name: lastName()
      plan: traits.plan
  purchase:
    trigger: type == "track" && event == "Order Completed"
    foreach: products()
    url: "{{ settings.base_url }}/purchases"
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      user: userIdOrAnonymousId()
      order_id: orderId()
      product_id: item.product_id
      price: item.price
      quantity: item.quantity
      currency: currency()
      dedupe_key: messageId + ":" + string(index)
delivery:
  ordering: user
  rate:
    rps: 20
`},
	{"A catalog destination", md("A catalog tool needs only its settings; without ´presets´, its default presets are on. ´switchyard catalog klaviyo´ lists its settings and presets.\n\n" +
		"A preset may replace others: Customer.io's ´batch´, its default, sends through Track API v2 the calls its v1 presets send one per request. " +
		"´validate´ refuses a destination that enables a preset with one it replaces (each event would be sent twice), unless one of them is given its own trigger under ´actions´; " +
		"´switchyard catalog TOOL´ says which presets a preset is sent instead of."), `# destinations/klaviyo.yaml
# yaml-language-server: $schema=` + SchemaBaseURL + DestinationSchemaFile + `
type: klaviyo
sources: [web, ios]
settings:
  private_key: ${KLAVIYO_PRIVATE_KEY}
# Only these presets (track is left off).
presets: [identify, order_completed, ordered_product]
actions:
  # An action named like a preset overrides it: here, its trigger.
  identify:
    trigger: type == "identify" && traits.email != nil
delivery:
  retry_window: 12h
`},
}
