package destinations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Definition is one tool of the catalog, read from
// catalog/<tool>/definition.yaml. It is data: the router compiles its
// presets with the mapping language, and `switchyard catalog`, the docs and
// the JSON Schema of destination files are generated from it.
type Definition struct {
	// Name is the destination type operators write (`type: braze`).
	Name string `yaml:"name"`
	// Title is the tool's display name. The integrations object may use it.
	Title string `yaml:"title"`
	// Category: email, push, analytics or notify.
	Category    string `yaml:"category"`
	Description string `yaml:"description"`
	// Docs is the public API documentation the definition follows.
	Docs string `yaml:"docs"`
	// Aliases are more names the integrations object may use.
	Aliases  []string  `yaml:"aliases"`
	Settings []Setting `yaml:"settings"`
	// Endpoints map a setting (a region or data center) to a base URL,
	// offered to expressions as settings.endpoint unless the operator sets
	// endpoint.
	Endpoints *Endpoints `yaml:"endpoints"`
	// Request holds the defaults of every preset: method, URL and headers
	// (auth lives here).
	Request RequestDef `yaml:"request"`
	// Batch is the default batching of presets; nil sends one event per
	// request.
	Batch *BatchDef `yaml:"batch"`
	// Rate is the tool's documented limit.
	Rate RateDef `yaml:"rate"`
	// Dedupe names the payload field fed from messageId, for the docs.
	Dedupe string `yaml:"dedupe"`
	// Auth names a registered Authorizer (see RegisterAuth) for credentials
	// a header template cannot express; empty for most tools.
	Auth string `yaml:"auth"`
	// ItemErrors names the parser of per-item errors in batch responses
	// (see RegisterItemErrors).
	ItemErrors string `yaml:"item_errors"`
	// Receipts is how the tickets of delivered messages are checked later
	// (see RegisterReceipts); nil for tools that confirm nothing later.
	Receipts *ReceiptsDef `yaml:"receipts"`
	Presets  []Preset     `yaml:"presets"`
	// Deletion is how the tool erases a user: its delete actions, or why
	// it has none. Every definition says one or the other.
	Deletion Deletion `yaml:"deletion"`
	// Notes are remarks for the README and `switchyard catalog TOOL`, such as
	// where this project deliberately differs from other routers.
	Notes []string `yaml:"notes"`
}

// Setting is one setting of a tool.
type Setting struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
	// Secret settings must be ${ENV} references and are redacted on output.
	Secret bool `yaml:"secret"`
	// Format: string (default), url, email, number, bool, or enum.
	Format  string   `yaml:"format"`
	Enum    []string `yaml:"enum"`
	Default any      `yaml:"default"`
	Example string   `yaml:"example"`
}

// Endpoints select a base URL by the value of a setting.
type Endpoints struct {
	Setting string            `yaml:"setting"`
	Values  map[string]string `yaml:"values"`
}

// RequestDef is the request part of a preset or of the tool's defaults.
type RequestDef struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// Encoding is how the rendered fields become the body: "json" (the
	// default, "" too) or "form", application/x-www-form-urlencoded, for
	// tools that take nothing else (Twilio's Messaging API). A form body
	// holds flat text, number and boolean fields only; anything else fails
	// the event for that action with the field named. A preset's encoding
	// overrides the tool's.
	Encoding string `yaml:"encoding"`
}

// Body encodings of RequestDef.Encoding.
const (
	EncodingJSON = "json"
	EncodingForm = "form"
)

// BodyEncoding is the encoding of a preset's requests: its own, else the
// tool's, else JSON.
func (d *Definition) BodyEncoding(preset string) string {
	if p, ok := d.Preset(preset); ok && p.Request.Encoding != "" {
		return p.Request.Encoding
	}
	if d.Request.Encoding != "" {
		return d.Request.Encoding
	}
	return EncodingJSON
}

// BatchDef is how a tool takes several events in one request.
type BatchDef struct {
	Disabled bool `yaml:"disabled"`
	// Key is where the items go: body[Key] is the JSON array of items; ""
	// means the body is the array itself.
	Key string `yaml:"key"`
	// Envelope is the rest of the body, a fields tree over settings only.
	Envelope any    `yaml:"envelope"`
	MaxItems int    `yaml:"max_items"`
	MaxBytes int    `yaml:"max_bytes"`
	Linger   string `yaml:"linger"`
}

// RateDef is a tool's documented rate limit.
type RateDef struct {
	RPS         float64 `yaml:"rps"`
	Concurrency int     `yaml:"concurrency"`
	Note        string  `yaml:"note"`
}

// Preset is a ready-made action.
type Preset struct {
	Name        string `yaml:"name"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Default presets are enabled when a destination lists none.
	Default bool   `yaml:"default"`
	Trigger string `yaml:"trigger"`
	ForEach string `yaml:"foreach"`
	// ForEachEmpty says what a foreach that yields no element means: fail
	// (the default: the event lacks what the tool needs, and is
	// dead-lettered with that reason) or skip (nothing to send, counted
	// filtered with reason nothing_to_send).
	ForEachEmpty string     `yaml:"foreach_empty"`
	Request      RequestDef `yaml:"request"`
	Fields       any        `yaml:"fields"`
	// Batch overrides the tool's batching for this preset.
	Batch *BatchDef `yaml:"batch"`
	// Rate is the documented limit of this preset's endpoint when it is
	// below the tool's (Iterable's bulk endpoints take 5 and 10 requests/s,
	// its single-event ones 500): the preset's requests are held to it, and
	// count against the tool's limit too (RateConfig.Actions).
	Rate *RateDef `yaml:"rate"`
	// Contract names what its payload is checked against in tests.
	Contract *Contract `yaml:"contract"`
	// Docs is the API page of this preset's endpoint.
	Docs string `yaml:"docs"`
	// InsteadOf names the presets this one replaces: they send the same
	// calls another way (Customer.io's v2 batch instead of its v1 calls),
	// so a destination that enables this preset and any of them would send
	// each event twice, and is refused (router/plan).
	InsteadOf []string `yaml:"instead_of"`
}

// Contract points at the published API contract a preset's payload must
// satisfy: an OpenAPI operation, or a JSON Schema kept in the project. It
// describes the body as sent: for a batching preset, the whole batch.
type Contract struct {
	// OpenAPI is a file under internal/contracts/testdata (for example
	// "klaviyo/create_event.json") with Path and Method naming the operation.
	OpenAPI string `yaml:"openapi"`
	Path    string `yaml:"path"`
	Method  string `yaml:"method"`
	// Schema is a JSON Schema file in the tool's folder, for tools that
	// publish no contract; SchemaSource cites the page it follows.
	Schema       string `yaml:"schema"`
	SchemaSource string `yaml:"schema_source"`
}

// Deletion is how a regulation's delete reaches the tool (docs/privacy.md).
type Deletion struct {
	// Unsupported says why the tool has no delete action (it keeps no
	// user store, or its API cannot erase by the ids a regulation names):
	// a deletion is reported not_supported at it, with this text.
	Unsupported string `yaml:"unsupported"`
	// Actions are the tool's delete actions. Each whose trigger matches
	// the regulation is sent; a deletion is finished when every request
	// of every matching action succeeded.
	Actions []DeleteAction `yaml:"actions"`
	// Notes say what the tool's deletion does and does not do (it does
	// not block new events; it archives rather than erases), for the
	// README and docs/privacy.md.
	Notes []string `yaml:"notes"`
}

// DeleteAction is an action of kind delete: the request that asks the
// tool to erase users. Its expressions see `users` (the users of this
// request: a list of {userId, anonymousId, email}), `regulation` ({id,
// type, reason}), `settings`, and, for a single user, userId, anonymousId
// and email() as an event's; with a lookup, `lookup` is its decoded answer.
type DeleteAction struct {
	Name        string `yaml:"name"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Trigger is a boolean expression; empty matches every regulation
	// (Customer.io: a suppress_with_delete suppresses, a delete deletes).
	Trigger string     `yaml:"trigger"`
	Request RequestDef `yaml:"request"`
	// Fields is the body; nil for a request without one (DELETE).
	Fields any `yaml:"fields"`
	// UsersPerRequest is how many users one request names, the tool's
	// documented maximum (Braze 50, Amplitude 100, Mixpanel 2,000);
	// 0 or 1: one request per user.
	UsersPerRequest int `yaml:"users_per_request"`
	// Lookup is a request sent first, whose answer names what to delete
	// (SendGrid deletes contacts by its own ids, found by email).
	Lookup *LookupDef `yaml:"lookup"`
	// Absent are the statuses that mean the tool holds no such user
	// (OneSignal answers 404 for an unknown external_id): the deletion is
	// finished, with that answer.
	Absent []int `yaml:"absent"`
	// Rate is the documented limit of the tool's delete endpoint when it
	// is below the tool's (Iterable's users/forget takes 3 requests/s):
	// its requests are held to it, as a preset's (Preset.Rate).
	Rate     *RateDef  `yaml:"rate"`
	Contract *Contract `yaml:"contract"`
	Docs     string    `yaml:"docs"`
}

// LookupDef is the request a delete action sends before its own.
type LookupDef struct {
	// When is a boolean expression; false skips the lookup (lookup is nil).
	When    string     `yaml:"when"`
	Request RequestDef `yaml:"request"`
	Fields  any        `yaml:"fields"`
	// Found is a boolean expression over lookup (the decoded answer):
	// false means the tool holds nothing to delete, and the deletion is
	// finished. Empty: any 2xx answer found something.
	Found string `yaml:"found"`
	// Absent are the statuses that mean nothing was found: nothing to
	// delete, the deletion is finished.
	Absent []int `yaml:"absent"`
	// Contract is what the lookup's body is checked against in tests.
	Contract *Contract `yaml:"contract"`
}

// DeleteAction returns the delete action called name.
func (d *Definition) DeleteAction(name string) (*DeleteAction, bool) {
	for i := range d.Deletion.Actions {
		if d.Deletion.Actions[i].Name == name {
			return &d.Deletion.Actions[i], true
		}
	}
	return nil, false
}

// Preset returns the preset called name.
func (d *Definition) Preset(name string) (*Preset, bool) {
	for i := range d.Presets {
		if d.Presets[i].Name == name {
			return &d.Presets[i], true
		}
	}
	return nil, false
}

// PresetsTogether lists every preset a destination can enable at once: all
// but those another preset replaces (InsteadOf), the replacing one being the
// tool's path for those calls. Reports that run each input through every
// preset that applies to it enable these.
func (d *Definition) PresetsTogether() []string {
	replaced := map[string]bool{}
	for _, p := range d.Presets {
		for _, q := range p.InsteadOf {
			replaced[q] = true
		}
	}
	var out []string
	for _, p := range d.Presets {
		if !replaced[p.Name] {
			out = append(out, p.Name)
		}
	}
	return out
}

// Setting returns the setting called name.
func (d *Definition) Setting(name string) (*Setting, bool) {
	for i := range d.Settings {
		if d.Settings[i].Name == name {
			return &d.Settings[i], true
		}
	}
	return nil, false
}

// IntegrationNames are the names the integrations object may use for this
// tool: its title and aliases.
func (d *Definition) IntegrationNames() []string {
	return append([]string{d.Title}, d.Aliases...)
}

//go:embed catalog
var catalogFS embed.FS

var (
	catalogOnce sync.Once
	catalog     map[string]*Definition
	catalogErr  error
)

// Catalog returns every tool definition by type name. The definitions are
// embedded in the binary; an invalid one is a build defect, reported here.
func Catalog() (map[string]*Definition, error) {
	catalogOnce.Do(func() { catalog, catalogErr = loadCatalog(catalogFS) })
	return catalog, catalogErr
}

// Lookup returns the definition of a tool type. Definitions that load are
// usable even when another one is defective.
func Lookup(name string) (*Definition, bool) {
	c, _ := Catalog()
	d, ok := c[name]
	return d, ok
}

// Tools lists the catalog's type names, sorted.
func Tools() []string {
	c, _ := Catalog()
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CatalogFS returns the embedded catalog folder (definitions, READMEs,
// schemas and testdata).
func CatalogFS() fs.FS {
	sub, _ := fs.Sub(catalogFS, "catalog")
	return sub
}

func loadCatalog(fsys fs.FS) (map[string]*Definition, error) {
	out := map[string]*Definition{}
	files, err := fs.Glob(fsys, "catalog/*/definition.yaml")
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var d Definition
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&d); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		if want := path.Base(path.Dir(f)); d.Name != want {
			problems = append(problems, fmt.Sprintf("%s: name %q does not match its folder %q", f, d.Name, want))
			continue
		}
		bad, rb := d.defects(), d.receiptsDefects()
		if len(bad) > 0 {
			// A typo would silently turn a quirk off (a Braze partial failure
			// counted delivered): the definition is refused instead.
			problems = append(problems, fmt.Sprintf("%s: %s", f, strings.Join(bad, "; ")))
		}
		for _, r := range rb {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", f, keyLine(data, "receipts", r.key), r.msg))
		}
		if len(bad)+len(rb) > 0 {
			continue
		}
		out[d.Name] = &d
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("catalog: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// defects lists what is wrong with a definition as data: settings whose
// format means nothing or whose default it refuses, request encodings the
// router does not know, and names no registered quirk answers to
// (item_errors, auth). Tools register their quirks from their own package's
// init (destinations/catalog/<tool>); a program links them all by
// importing destinations/catalog/all.
func (d *Definition) defects() []string {
	var bad []string
	for i := range d.Settings {
		if err := d.Settings[i].check(); err != nil {
			bad = append(bad, err.Error())
		}
	}
	for _, p := range d.Presets {
		switch p.ForEachEmpty {
		case "", "fail", "skip":
		default:
			bad = append(bad, fmt.Sprintf("preset %s: foreach_empty %q: want fail or skip", p.Name, p.ForEachEmpty))
		}
		if p.ForEachEmpty != "" && p.ForEach == "" {
			bad = append(bad, fmt.Sprintf("preset %s: foreach_empty without foreach", p.Name))
		}
		if r := p.Rate; r != nil && (!(r.RPS > 0) || r.Concurrency != 0) {
			bad = append(bad, fmt.Sprintf("preset %s: rate needs rps above 0, and no concurrency (the destination's is shared by its presets)", p.Name))
		}
		for _, q := range p.InsteadOf {
			if _, ok := d.Preset(q); !ok || q == p.Name {
				bad = append(bad, fmt.Sprintf("preset %s: instead_of %q is not another preset of %s", p.Name, q, d.Name))
			}
		}
	}
	bad = append(bad, d.deletionDefects()...)
	if d.ItemErrors != "" {
		if _, ok := ItemErrorsMatcher(d.ItemErrors); !ok {
			bad = append(bad, fmt.Sprintf("item_errors %q is not a registered parser (registered: %s; is destinations/catalog/all imported?)", d.ItemErrors, strings.Join(ItemErrorsParsers(), ", ")))
		}
	}
	for _, enc := range append([]string{d.Request.Encoding}, presetEncodings(d)...) {
		if enc != "" && enc != EncodingJSON && enc != EncodingForm {
			bad = append(bad, fmt.Sprintf("request encoding %q is not json or form", enc))
		}
	}
	if d.Auth != "" {
		if _, err := AuthFor(d.Auth); err != nil {
			bad = append(bad, fmt.Sprintf("auth: %v (is destinations/catalog/all imported?)", err))
		}
	}
	return bad
}

// keyLine is the line of the key at path in a YAML document (the deepest
// key of path found), 1 when none is.
func keyLine(data []byte, path ...string) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 1
	}
	line, n := 1, doc.Content[0]
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// deletionDefects: a tool says how it deletes or why it cannot, never
// both, and its delete actions are named apart from its presets.
func (d *Definition) deletionDefects() []string {
	var bad []string
	del := d.Deletion
	switch {
	case del.Unsupported == "" && len(del.Actions) == 0:
		bad = append(bad, "deletion: neither actions nor unsupported (say how the tool erases a user, or why it cannot)")
	case del.Unsupported != "" && len(del.Actions) > 0:
		bad = append(bad, "deletion: both actions and unsupported")
	}
	seen := map[string]bool{}
	for _, a := range del.Actions {
		switch {
		case a.Name == "":
			bad = append(bad, "deletion: an action without a name")
		case seen[a.Name]:
			bad = append(bad, fmt.Sprintf("deletion: action %s twice", a.Name))
		}
		seen[a.Name] = true
		if _, ok := d.Preset(a.Name); ok {
			bad = append(bad, fmt.Sprintf("deletion: action %s has the name of a preset", a.Name))
		}
		if a.UsersPerRequest < 0 {
			bad = append(bad, fmt.Sprintf("deletion: action %s: users_per_request %d", a.Name, a.UsersPerRequest))
		}
		if r := a.Rate; r != nil && (!(r.RPS > 0) || r.Concurrency != 0) {
			bad = append(bad, fmt.Sprintf("deletion: action %s: rate needs rps above 0, and no concurrency (the destination's is shared by its actions)", a.Name))
		}
		if a.Request.Encoding != "" && a.Request.Encoding != EncodingJSON {
			bad = append(bad, fmt.Sprintf("deletion: action %s: request encoding %q: delete actions send JSON", a.Name, a.Request.Encoding))
		}
		for _, st := range append(append([]int{}, a.Absent...), lookupAbsent(a.Lookup)...) {
			if st < 300 || st > 599 {
				bad = append(bad, fmt.Sprintf("deletion: action %s: absent status %d is not an error status", a.Name, st))
			}
		}
	}
	return bad
}

func lookupAbsent(l *LookupDef) []int {
	if l == nil {
		return nil
	}
	return l.Absent
}

func presetEncodings(d *Definition) []string {
	out := make([]string, 0, len(d.Presets))
	for _, p := range d.Presets {
		out = append(out, p.Request.Encoding)
	}
	return out
}
