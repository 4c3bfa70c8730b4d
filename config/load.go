package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// GlobalFile is the name of the global config file in a config directory.
const GlobalFile = "switchyard.yaml"

// DestinationsDir is the folder of destination files.
const DestinationsDir = "destinations"

// MaxFileBytes bounds any one config file.
const MaxFileBytes = 1 << 20

// NamePattern is what destination and source names may contain: they
// appear in subjects, consumer names and metric labels.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Config is a whole config directory.
type Config struct {
	Dir    string
	Global Global
	// GlobalExpansions are the ${ENV} references of switchyard.yaml.
	GlobalExpansions []Expansion
	// Destinations, sorted by name.
	Destinations []*Destination

	globalFile string
	globalPos  map[string]scalarPos
	lines      map[string][]string // file -> lines, for positions in block scalars
}

// Destination returns the destination called name, or nil.
func (c *Config) Destination(name string) *Destination {
	for _, d := range c.Destinations {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// GlobalPos returns where a key of switchyard.yaml is written (the file
// itself when the key is absent).
func (c *Config) GlobalPos(path string) Pos {
	return lookupPos(c.globalFile, c.globalPos, path)
}

// Options tune Load.
type Options struct {
	// Lookup reads environment variables; os.LookupEnv when nil.
	Lookup func(string) (string, bool)
}

// Load reads a config directory. It returns every finding; the config may
// be used only when diags.Err() is nil.
func Load(dir string, opts Options) (*Config, Diagnostics) {
	c := &Config{Dir: dir, lines: map[string][]string{}}
	var diags Diagnostics
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, Diagnostics{{Pos: Pos{File: dir}, Message: "config directory not found (want a directory holding switchyard.yaml and destinations/*.yaml)"}}
	}
	c.globalFile = filepath.Join(dir, GlobalFile)
	if n, ok, ds := c.parseFile(c.globalFile); ok {
		dec := &decoder{file: c.globalFile, pos: map[string]scalarPos{}, env: newEnvExpander(opts.Lookup)}
		dec.decode(n, reflect.ValueOf(&c.Global).Elem(), "", false)
		diags = append(diags, dec.diags...)
		c.globalPos, c.GlobalExpansions = dec.pos, dec.env.expansions
	} else {
		diags = append(diags, ds...)
	}
	diags = append(diags, c.checkGlobal()...)

	files, err := destinationFiles(filepath.Join(dir, DestinationsDir))
	if err != nil {
		diags = append(diags, Diagnostic{Pos: Pos{File: filepath.Join(dir, DestinationsDir)}, Message: err.Error()})
	}
	seen := map[string]*Destination{}
	for _, f := range files {
		n, ok, ds := c.parseFile(f)
		diags = append(diags, ds...)
		if !ok {
			continue
		}
		d := &Destination{File: f}
		dec := &decoder{file: f, pos: map[string]scalarPos{}, env: newEnvExpander(opts.Lookup)}
		dec.decode(n, reflect.ValueOf(d).Elem(), "", false)
		d.pos, d.Expansions = dec.pos, dec.env.expansions
		diags = append(diags, dec.diags...)
		if d.Name == "" {
			d.Name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".yaml"), ".yml")
		}
		diags = append(diags, c.checkDestination(d)...)
		if prev, dup := seen[d.Name]; dup {
			diags = append(diags, Diagnostic{Pos: d.Pos("name"), Message: fmt.Sprintf("destination name %q is already used by %s", d.Name, prev.File)})
			continue
		}
		seen[d.Name] = d
		c.Destinations = append(c.Destinations, d)
	}
	sort.Slice(c.Destinations, func(i, j int) bool { return c.Destinations[i].Name < c.Destinations[j].Name })
	// After the destinations: whether the defaults matter depends on them.
	diags = append(diags, c.checkExpiryGlobal()...)
	diags.Sort()
	return c, diags
}

// destinationFiles lists destinations/*.yaml and *.yml, skipping hidden and
// editor backup files. A missing folder is no destinations.
func destinationFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	sort.Strings(out)
	return out, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseFile reads and parses one YAML file. A missing global file is an
// empty one.
func (c *Config) parseFile(path string) (*yaml.Node, bool, Diagnostics) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: reading the operator's config directory is this function's job
	if errors.Is(err, fs.ErrNotExist) && path == c.globalFile {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, Diagnostics{{Pos: Pos{File: path}, Message: err.Error()}}
	}
	if len(data) > MaxFileBytes {
		return nil, false, Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Message: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(data), MaxFileBytes)}}
	}
	c.lines[path] = strings.Split(string(data), "\n")
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = yamlLine.ReplaceAllString(msg, "")
		msg = strings.TrimLeft(msg, ": ")
		// A ${ENV} reference inside a flow list or mapping ([${A}] or
		// {k: ${A}}) reads as a nested mapping: the commonest slip.
		// (YAML also ends lines at a lone \r, so its line may be past ours.)
		lines := c.lines[path]
		lo := min(max(0, line-2), len(lines))
		for _, l := range lines[lo:max(lo, min(len(lines), line+1))] {
			if strings.Contains(l, "${") && strings.ContainsAny(l, "[{") {
				msg += ` (inside [ ] or { }, quote ${ENV} references: ["${WRITE_KEY}"])`
				break
			}
		}
		return nil, false, Diagnostics{{Pos: Pos{File: path, Line: line, Col: 1}, Message: "YAML syntax: " + msg}}
	}
	if len(n.Content) == 0 {
		return nil, false, nil
	}
	return &n, true, nil
}

func (c *Config) checkGlobal() Diagnostics {
	var diags Diagnostics
	errAt := func(path, format string, args ...any) {
		diags = append(diags, Diagnostic{Pos: c.GlobalPos(path), Message: fmt.Sprintf(format, args...)})
	}
	g := &c.Global
	names := map[string]bool{}
	for i, s := range g.Sources {
		p := fmt.Sprintf("sources[%d].name", i)
		switch {
		case !NamePattern.MatchString(s.Name):
			errAt(p, "source name %q: use lowercase letters, digits, - and _ (it appears in subjects)", s.Name)
		case names[s.Name]:
			errAt(p, "source %q is listed twice", s.Name)
		}
		names[s.Name] = true
	}
	owner := map[string]string{}
	for i, s := range g.Sources {
		for j, k := range s.WriteKeys {
			p := fmt.Sprintf("sources[%d].write_keys[%d]", i, j)
			switch {
			case k == "":
				errAt(p, "write key is empty (an unset ${ENV}?)")
			case owner[k] != "" && owner[k] != s.Name:
				errAt(p, "write key is also a key of source %q: a key must name one source", owner[k])
			}
			owner[k] = s.Name
		}
	}
	if g.Ingest.Enabled && len(owner) == 0 {
		errAt("ingest.enabled", "the HTTP intake needs write keys: list them under sources[].write_keys")
	}
	if g.Log.Level != "" && !oneOf(g.Log.Level, "debug", "info", "warn", "error") {
		errAt("log.level", "log level %q: want debug, info, warn or error", g.Log.Level)
	}
	if g.Log.Format != "" && !oneOf(g.Log.Format, "text", "json") {
		errAt("log.format", "log format %q: want text or json", g.Log.Format)
	}
	for _, p := range []struct{ path, addr string }{{"admin.listen", g.Admin.Listen}, {"ingest.listen", g.Ingest.Listen}, {"nats.embedded.listen", g.NATS.Embedded.Listen}} {
		if p.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(p.addr); err != nil {
			errAt(p.path, "listen address %q: want host:port, for example 127.0.0.1:8088", p.addr)
		}
	}
	if g.NATS.URL == "" && g.NATS.Embedded.Listen != "" && !isLoopback(g.NATS.Embedded.Listen) &&
		g.NATS.Embedded.Token == "" && !g.NATS.Embedded.AllowRemote {
		errAt("nats.embedded.listen", "the embedded NATS server would listen beyond loopback (%s) without auth: set nats.embedded.token, or allow_remote: true to accept that risk", g.NATS.Embedded.Listen)
	}
	if _, _, err := net.SplitHostPort(g.Admin.Listen); err == nil && !isLoopback(g.Admin.Listen) &&
		g.Admin.Token == "" && !g.Admin.AllowUnauthenticated {
		errAt("admin.listen", "the admin listener would serve /debug/deliveries (samples of delivered and failed events) beyond loopback (%s) without a token: set admin.token, or admin.allow_unauthenticated: true to accept that risk", g.Admin.Listen)
	}
	diags = append(diags, c.checkEmbedded()...)
	if g.Streams.Replicas < 0 || g.Streams.Replicas > 5 {
		errAt("streams.replicas", "replicas %d: want 1 to 5", g.Streams.Replicas)
	}
	diags = append(diags, checkDelivery(&g.Defaults.Delivery, func(path string) Pos { return c.GlobalPos("defaults.delivery." + path) })...)
	return diags
}

// checkEmbedded checks the embedded server's JetStream keys, and warns
// when they cannot apply because nats.url names other servers.
func (c *Config) checkEmbedded() Diagnostics {
	var diags Diagnostics
	e := &c.Global.NATS.Embedded
	if err := checkSyncInterval(e.SyncInterval); err != nil {
		diags = append(diags, Diagnostic{Pos: c.GlobalPos("nats.embedded.sync_interval"), Message: err.Error()})
	}
	if mb := c.Global.Streams.MaxBytes; e.MaxStore > 0 && mb > e.MaxStore {
		diags = append(diags, Diagnostic{Pos: c.GlobalPos("nats.embedded.max_store"),
			Message: fmt.Sprintf("max_store %d is below streams.max_bytes %d: JetStream would refuse the EVENTS stream", e.MaxStore, mb)})
	}
	if c.Global.NATS.URL != "" {
		for _, k := range []struct {
			key string
			set bool
		}{{"sync_interval", e.SyncInterval != ""}, {"max_memory", e.MaxMemory != 0}, {"max_store", e.MaxStore != 0}} {
			if k.set {
				diags = append(diags, Diagnostic{Pos: c.GlobalPos("nats.embedded." + k.key), Warning: true,
					Message: fmt.Sprintf("nats.embedded.%s has no effect: nats.url is set, so no embedded server runs (set it on your nats-server)", k.key)})
			}
		}
	}
	return diags
}

func (c *Config) checkDestination(d *Destination) Diagnostics {
	var diags Diagnostics
	errAt := func(path, format string, args ...any) {
		diags = append(diags, Diagnostic{Pos: d.Pos(path), Message: fmt.Sprintf(format, args...)})
	}
	if !NamePattern.MatchString(d.Name) {
		errAt("name", "destination name %q: use lowercase letters, digits, - and _ (it appears in consumer names and metric labels)", d.Name)
	}
	if d.Type == "" {
		errAt("type", "missing type: webhook, http, or a catalog tool (see `switchyard catalog`)")
	}
	declared := map[string]bool{}
	for _, s := range c.Global.Sources {
		declared[s.Name] = true
	}
	for i, s := range d.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		switch {
		case !NamePattern.MatchString(s):
			errAt(p, "source name %q: use lowercase letters, digits, - and _", s)
		case len(declared) > 0 && !declared[s]:
			errAt(p, "source %q is not declared in %s", s, GlobalFile)
		}
	}
	if _, err := ParseStart(d.Start); err != nil {
		errAt("start", "%v", err)
	}
	for name, a := range d.Actions {
		if !NamePattern.MatchString(name) {
			errAt("actions."+name, "action name %q: use lowercase letters, digits, - and _", name)
		}
		if a.Batch != nil {
			diags = append(diags, checkBatch(a.Batch, func(p string) Pos { return d.Pos("actions." + name + ".batch." + p) })...)
		}
		if !oneOf(a.ForEachEmpty, "", "fail", "skip") {
			errAt("actions."+name+".foreach_empty", "foreach_empty %q: want fail or skip", a.ForEachEmpty)
		}
		if !oneOf(a.Kind, "", "event", "delete") {
			errAt("actions."+name+".kind", "kind %q: want event or delete", a.Kind)
		}
		if a.UsersPerRequest > MaxRegulationUsers {
			errAt("actions."+name+".users_per_request", "users_per_request %d is over %d, the most users one regulation names", a.UsersPerRequest, MaxRegulationUsers)
		}
	}
	diags = append(diags, checkPrivacy(d, errAt)...)
	diags = append(diags, checkDelivery(&d.Delivery, func(path string) Pos { return d.Pos("delivery." + path) })...)
	diags = append(diags, c.checkExpiryDestination(d)...)
	return diags
}

// MaxRegulationUsers bounds the users one regulation names (Segment's
// Regulations API takes at most 5,000 subject ids a call).
const MaxRegulationUsers = 5000

// checkPrivacy checks consent, sample and the field filters; errAt reports
// (it also returns nothing, so that the caller's list stays the one list).
func checkPrivacy(d *Destination, errAt func(path, format string, args ...any)) Diagnostics {
	if d.Consent != nil {
		if len(d.Consent.Categories) == 0 {
			errAt("consent.categories", "consent needs at least one category (remove consent to send regardless of consent)")
		}
		seen := map[string]bool{}
		for i, c := range d.Consent.Categories {
			switch {
			case strings.TrimSpace(c) == "":
				errAt(fmt.Sprintf("consent.categories[%d]", i), "empty consent category")
			case seen[c]:
				errAt(fmt.Sprintf("consent.categories[%d]", i), "consent category %q is listed twice", c)
			}
			seen[c] = true
		}
	}
	if d.Sample != nil && *d.Sample > 1 {
		errAt("sample", "sample %v: want a fraction from 0 to 1 (0.25 sends a quarter of the users)", *d.Sample)
	}
	for _, list := range []struct {
		key   string
		paths []string
	}{{"allow_fields", d.AllowFields}, {"block_fields", d.BlockFields}} {
		for i, p := range list.paths {
			if err := CheckFieldPath(p); err != nil {
				errAt(fmt.Sprintf("%s[%d]", list.key, i), "%s %q: %v", list.key, p, err)
			}
		}
	}
	return nil
}

// FieldRoots are the event objects allow_fields and block_fields reach
// into: the spec's top-level fields (type, userId, messageId, ...) are
// what routing and every tool need, so they are never removed.
var FieldRoots = []string{"properties", "traits", "context"}

// CheckFieldPath checks a path of allow_fields or block_fields.
func CheckFieldPath(p string) error {
	parts := strings.Split(p, ".")
	if !oneOf(parts[0], FieldRoots...) {
		return fmt.Errorf("want a path under properties, traits or context (the spec's top-level fields are kept)")
	}
	for _, s := range parts {
		if s == "" {
			return fmt.Errorf("empty path segment")
		}
	}
	return nil
}

func checkDelivery(dl *Delivery, pos func(string) Pos) Diagnostics {
	var diags Diagnostics
	if !oneOf(dl.Ordering, "", "none", "user") {
		diags = append(diags, Diagnostic{Pos: pos("ordering"), Message: fmt.Sprintf("ordering %q: want none or user", dl.Ordering)})
	}
	if dl.Backoff.Max != 0 && dl.Backoff.Initial > dl.Backoff.Max {
		diags = append(diags, Diagnostic{Pos: pos("backoff.initial"), Message: "backoff.initial is larger than backoff.max"})
	}
	return append(diags, checkBatch(&dl.Batch, func(p string) Pos { return pos("batch." + p) })...)
}

func checkBatch(b *Batch, pos func(string) Pos) Diagnostics {
	if b.MaxItems > 100_000 {
		return Diagnostics{{Pos: pos("max_items"), Message: "max_items over 100000: a batch that large is held in memory"}}
	}
	if b.MaxBytes > 64<<20 {
		return Diagnostics{{Pos: pos("max_bytes"), Message: "max_bytes over 64 MiB: a batch that large is held in memory"}}
	}
	return nil
}

// Start is where a new destination's consumer begins.
type Start struct {
	All  bool      // the whole stream
	Time time.Time // from this time; zero with All false means new messages only
}

// ParseStart reads a destination's start key.
func ParseStart(s string) (Start, error) {
	switch s {
	case "", "new":
		return Start{}, nil
	case "all":
		return Start{All: true}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Start{}, fmt.Errorf("start %q: want new, all, or an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return Start{Time: t}, nil
}

func oneOf(s string, opts ...string) bool {
	for _, o := range opts {
		if s == o {
			return true
		}
	}
	return false
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
