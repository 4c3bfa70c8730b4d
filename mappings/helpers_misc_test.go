package mappings

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperCompiler compiles the test expressions with every registered
// helper. It is built on first use: package variables are initialised
// before the init functions that register the helpers.
var helperCompiler = &lazyCompiler{}

type lazyCompiler struct {
	once sync.Once
	c    *Compiler
}

func (l *lazyCompiler) Expr(path, src string) (*Program, error) {
	l.once.Do(func() { l.c = NewCompiler(ExprLimits{}) })
	return l.c.Expr(path, src)
}

// helperEvent decodes a Segment event for a test, adding a messageId and an
// anonymousId when the JSON has none, so cases show only what they are about.
func helperEvent(t testing.TB, js string) *Event {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber() // keep every digit of big ids
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("bad test event %s: %v", js, err)
	}
	if _, ok := m["messageId"]; !ok {
		m["messageId"] = "m-1"
	}
	if _, ok := m["userId"]; !ok {
		if _, ok := m["anonymousId"]; !ok {
			m["anonymousId"] = "anon-1"
		}
	}
	b, _ := json.Marshal(m)
	ev, err := Decode(b, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), Limits{})
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	return ev
}

// helperCase is one expression evaluated against one event through the real
// compiler: want is the exact Go value (types included), or wantErr a
// substring of the error.
type helperCase struct {
	name    string
	event   string
	expr    string
	want    any
	wantErr string
}

func runHelperCases(t *testing.T, cases []helperCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := helperEvent(t, c.event)
			p, err := helperCompiler.Expr("test", c.expr)
			if err != nil {
				t.Fatalf("compile %q: %v", c.expr, err)
			}
			got, err := p.Eval(NewEnv(ev, "web", nil))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("%s = %#v, %v; want error containing %q", c.expr, got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", c.expr, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s = %#v (%T); want %#v (%T)", c.expr, got, got, c.want, c.want)
			}
		})
	}
}

const trackEv = `{"type":"track","event":"Thing Happened","properties":{}}`

func TestMiscHelpers(t *testing.T) {
	runHelperCases(t, []helperCase{
		{"required passes value through", trackEv, `required("x", "email")`, "x", ""},
		{"required passes zero through", trackEv, `required(0, "count")`, 0, ""},
		{"required rejects nil with reason", trackEv, `required(properties.email, "email")`, nil, "email is required"},
		{"required rejects empty string", trackEv, `required("", "order_id")`, nil, "order_id is required"},
		{"required rejects spaces", trackEv, `required("  ", "order_id")`, nil, "order_id is required"},

		{"coalesce skips nil and empty", trackEv, `coalesce(nil, "", "  ", "b", "c")`, "b", ""},
		{"coalesce keeps zero and false", trackEv, `coalesce(nil, 0)`, 0, ""},
		{"coalesce of nothing is nil", trackEv, `coalesce(nil, "")`, nil, ""},
		{"coalesce without arguments is nil", trackEv, `coalesce()`, nil, ""},

		{"str of whole float has no decimal point", trackEv, `str(12.0)`, "12", ""},
		{"str of int", `{"type":"track","event":"x","properties":{"n":1234567890123}}`, `str(properties.n)`, "1234567890123", ""},
		{"str of bool", trackEv, `str(true)`, "true", ""},
		{"str of object is JSON", trackEv, `str({"a": 1})`, `{"a":1}`, ""},
		{"str of nil is nil", trackEv, `str(properties.none)`, nil, ""},

		{"num parses string", `{"type":"track","event":"x","properties":{"p":" 10.50 "}}`, `num(properties.p)`, 10.5, ""},
		{"num of int is float", `{"type":"track","event":"x","properties":{"p":3}}`, `num(properties.p)`, 3.0, ""},
		{"num of empty string is nil", `{"type":"track","event":"x","properties":{"p":""}}`, `num(properties.p)`, nil, ""},
		{"num of nil is nil", trackEv, `num(properties.p)`, nil, ""},
		{"num rejects words", `{"type":"track","event":"x","properties":{"p":"ten"}}`, `num(properties.p)`, nil, `num: not a number: "ten"`},
		{"num rejects NaN", trackEv, `num("NaN")`, nil, "not a number"},
		{"num rejects bool", trackEv, `num(true)`, nil, "not a number: a boolean"},

		{"stringValues stringifies and drops nil", `{"type":"track","event":"x","properties":{"a":1,"b":2.5,"c":true,"d":null,"e":{"x":[1,"y"]},"f":"s"}}`,
			`stringValues(properties)`, map[string]any{"a": "1", "b": "2.5", "c": "true", "e": `{"x":[1,"y"]}`, "f": "s"}, ""},
		{"stringValues of nil is nil", trackEv, `stringValues(properties.none)`, nil, ""},
		{"stringValues rejects a list", trackEv, `stringValues([1])`, nil, "want an object, got a list"},

		{"pick keeps listed keys", `{"type":"track","event":"x","properties":{"a":1,"b":2,"c":null}}`,
			`pick(properties, "a", "c", "z")`, map[string]any{"a": int64(1)}, ""},
		{"pick of nil is nil", trackEv, `pick(properties.none, "a")`, nil, ""},
		{"omitKeys drops listed keys", `{"type":"track","event":"x","properties":{"a":1,"b":2,"c":3}}`,
			`omitKeys(properties, "b", "c")`, map[string]any{"a": int64(1)}, ""},
		{"omitKeys leaves the event alone", `{"type":"track","event":"x","properties":{"a":1,"b":2}}`,
			`let x = omitKeys(properties, "b"); properties.b`, int64(2), ""},
		{"omitKeys rejects a number", trackEv, `omitKeys(3, "a")`, nil, "omitKeys: want an object, got a number"},
		{"merge later wins, shallow", trackEv, `merge({"a": 1, "n": {"x": 1}}, nil, {"a": 2, "n": {"y": 2}})`,
			map[string]any{"a": 2, "n": map[string]any{"y": 2}}, ""},
		{"merge rejects a string", trackEv, `merge({"a": 1}, "b")`, nil, "merge: argument 2: want an object, got a string"},

		{"compact removes nil deeply", trackEv, `compact({"a": nil, "b": {"c": nil, "d": 1}, "l": [nil, {"e": nil}, 2]})`,
			map[string]any{"b": map[string]any{"d": 1}, "l": []any{map[string]any{}, 2}}, ""},
		{"compact of nil is nil", trackEv, `compact(nil)`, nil, ""},
		{"compact rejects a string", trackEv, `compact("a")`, nil, "compact: want an object or a list"},
	})
}

func TestMiscHelpersRejectWrongArgumentsAtCompileTime(t *testing.T) {
	for _, src := range []string{
		`required("x")`,       // missing the reason
		`required("x", 1)`,    // reason must be a string
		`pick({"a": 1}, 2)`,   // keys are strings
		`str()`,               // one argument
		`email("x")`,          // event helpers take no argument
		`utm()`,               // needs a field
		`utm(1)`,              // field is a string
		`sha256Phone("1", 2)`, // format is a string
	} {
		if _, err := helperCompiler.Expr("test", src); err == nil {
			t.Errorf("%s compiled; want a compile-time error", src)
		}
	}
}

// TestHelperNamesShadowNothing pins that no helper hides an expr builtin
// (date, timezone, int...) or an event field (name, event...): expr resolves
// env fields before functions and functions before builtins, so either
// clash would silently break expressions.
func TestHelperNamesShadowNothing(t *testing.T) {
	builtins := map[string]bool{}
	for _, n := range strings.Fields(`all none any one filter map find findIndex findLast findLastIndex count sum
		groupBy sortBy reduce len type abs ceil floor round int float string trim trimPrefix trimSuffix upper lower
		split splitAfter replace repeat join indexOf lastIndexOf hasPrefix hasSuffix max min mean median toJSON
		fromJSON toBase64 fromBase64 now duration date timezone first last get take keys values toPairs fromPairs
		reverse uniq concat flatten sort bitand bitor bitxor bitnand bitnot bitshl bitshr bitushr
		in matches contains startsWith endsWith not and or let if else nil true false`) {
		builtins[n] = true
	}
	fields := map[string]bool{"$env": true}
	rt := reflect.TypeOf(Env{})
	for i := 0; i < rt.NumField(); i++ {
		if tag := rt.Field(i).Tag.Get("expr"); tag != "" {
			fields[tag] = true
		}
	}
	for _, h := range Helpers() {
		if builtins[h.Name] {
			t.Errorf("helper %s shadows the expr builtin of that name", h.Name)
		}
		if fields[h.Name] {
			t.Errorf("helper %s clashes with the event field of that name", h.Name)
		}
	}
}

// TestHelpersAreDocumented pins that every helper feeds the operator docs.
func TestHelpersAreDocumented(t *testing.T) {
	for _, h := range Helpers() {
		if h.Signature == "" || h.Doc == "" || h.Example == "" || len(h.Types) == 0 {
			t.Errorf("helper %s lacks a signature, doc, example or types", h.Name)
		}
		if !strings.HasPrefix(h.Signature, h.Name+"(") {
			t.Errorf("helper %s: signature %q does not start with its name", h.Name, h.Signature)
		}
		if _, err := helperCompiler.Expr("example", h.Example); err != nil {
			t.Errorf("helper %s: example does not compile: %v", h.Name, err)
		}
	}
}

// TestEventHelpersOutsideAnEvent pins that a helper called without its
// event (a direct Go call, or a settings-only env) errors instead of
// panicking.
func TestEventHelpersOutsideAnEvent(t *testing.T) {
	for _, h := range Helpers() {
		if !h.EventScoped {
			continue
		}
		if _, err := h.Fn(); err == nil {
			t.Errorf("%s() without its env: no error", h.Name)
		}
		if _, err := h.Fn("not an env"); err == nil {
			t.Errorf("%s(\"not an env\"): no error", h.Name)
		}
		env := SettingsEnv(map[string]any{"k": "v"})
		args := []any{env}
		if strings.Contains(h.Signature, "(field") || strings.Contains(h.Signature, "([name") {
			args = append(args, "source")
		}
		if _, err := h.Fn(args...); err != nil {
			t.Errorf("%s on a settings-only env: %v", h.Name, err)
		}
	}
}

// TestHelpersOnPeerCorpus runs every helper, called directly so that a
// panic is not hidden by the VM's recovery, over every event of the peer
// fixtures: real SDK events with nulls, strings as numbers and odd shapes.
// Errors are allowed (they are how malformed values are reported); panics
// are not.
func TestHelpersOnPeerCorpus(t *testing.T) {
	// The project's copy of the corpus (internal/peercorpus/testdata).
	files, _ := filepath.Glob("../internal/peercorpus/testdata/*/*.json")
	if len(files) < 20 {
		t.Fatalf("found %d corpus files: the peer corpus moved?", len(files))
	}
	var events []*Event
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			continue
		}
		collectMessages(doc, func(m map[string]any) {
			if _, err := normaliseNumbers(m); err != nil {
				return
			}
			if ev, err := FromMap(m, time.Now()); err == nil {
				events = append(events, ev)
			}
		})
	}
	if len(events) < 50 {
		t.Fatalf("only %d events decoded from the peer fixtures", len(events))
	}
	hs := Helpers()
	for _, ev := range events {
		env := NewEnv(ev, "web", nil)
		var values []any
		for _, m := range []map[string]any{ev.Properties, ev.Traits, ev.Context, asMap(ev.Raw["traits"])} {
			for _, v := range m {
				values = append(values, v)
			}
		}
		values = append(values, nil, "", ev.Raw["timestamp"], map[string]any(nil))
		for _, h := range hs {
			if h.EventScoped {
				callNoPanic(t, ev, h, env)
				callNoPanic(t, ev, h, env, "source")
				continue
			}
			for _, v := range values {
				callNoPanic(t, ev, h, v)
				callNoPanic(t, ev, h, v, "a")
				callNoPanic(t, ev, h, v, v)
			}
		}
	}
}

func callNoPanic(t *testing.T, ev *Event, h Helper, args ...any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s on event %s panicked: %v", h.Name, ev.MessageID, r)
		}
	}()
	_, _ = h.Fn(args...)
}

// collectMessages finds the Segment events of a fixture file: the values
// of "message" keys at any depth.
func collectMessages(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if m, ok := e.(map[string]any); ok && k == "message" {
				f(m)
				continue
			}
			collectMessages(e, f)
		}
	case []any:
		for _, e := range x {
			collectMessages(e, f)
		}
	}
}

// BenchmarkHelpers measures the helpers presets call on every event.
func BenchmarkHelpers(b *testing.B) {
	ev := helperEvent(b, `{"type":"track","event":"Order Completed","userId":"u1",
		"context":{"traits":{"email":" jane@example.com "}},
		"properties":{"order_id":"o1","revenue":"25.00","currency":"eur","products":[
			{"product_id":"p1","price":"10","quantity":2,"name":"A","category":"c"},
			{"sku":"s2","price":5,"name":"B"},
			{"product_id":"p3","price":1.25,"quantity":"4"}]}}`)
	env := NewEnv(ev, "web", nil)
	for _, src := range []string{`email()`, `products()`, `revenue()`, `map(products(), .price * .quantity)`} {
		p, err := helperCompiler.Expr("bench", src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(src, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestEncodingHelpers(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	for src, want := range map[string]any{
		`base64("user:secret")`:           "dXNlcjpzZWNyZXQ=",
		`base64(nil)`:                     nil,
		`basicAuth("site", "key")`:        "Basic c2l0ZTprZXk=",
		`basicAuth("anystring", "k-us6")`: "Basic YW55c3RyaW5nOmstdXM2",
	} {
		p, err := c.Expr("x", src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Eval(&Env{})
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
}

func TestValueHelpers(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	ev, err := Decode([]byte(`{"type":"identify","messageId":"m","userId":"u","traits":{"phone":"0044 20 7946 0000","name":"Zoë Élan"},"properties":null}`), time.Time{}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(ev, "web", nil)
	for src, want := range map[string]any{
		`typeOf(traits)`:                 "object",
		`typeOf(traits.name)`:            "string",
		`typeOf(properties)`:             "null",
		`typeOf([1])`:                    "list",
		`typeOf(1.5)`:                    "number",
		`truncate(traits.name, 3)`:       "Zoë",
		`truncate(traits.name, 100)`:     "Zoë Élan",
		`truncate(nil, 3)`:               nil,
		`phoneE164()`:                    "+442079460000",
		`phoneE164("020 7946 0000")`:     nil,
		`phoneE164("+1 (555) 010-9999")`: "+15550109999",
	} {
		p, err := c.Expr("x", src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Eval(env)
		if err != nil || got != want {
			t.Errorf("%s = %#v, %v; want %#v", src, got, err, want)
		}
	}
}

func TestAbsentObjectsAreOmittedNotNull(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	f, err := c.Fields("fields", map[string]any{"p": "properties", "t": "traits", "pairs": `fromPairs([["a", 1]])`})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := Decode([]byte(`{"type":"track","messageId":"m","userId":"u","event":"E"}`), time.Time{}, Limits{})
	got, err := f.Render(NewEnv(ev, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if _, ok := m["p"]; ok {
		t.Errorf("absent properties rendered as %v", m["p"])
	}
	if pairs, ok := m["pairs"].(map[string]any); !ok || pairs["a"] != 1 {
		t.Errorf("fromPairs result %#v is not a JSON object", m["pairs"])
	}
}

// foldEvent's one-pass ASCII fold gives what the general fold gives.
func TestFoldASCII(t *testing.T) {
	general := func(s string) string {
		return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return r == ' ' || r == '_' || r == '\t'
		}), " ")
	}
	names := []string{"", " ", "Order Completed", "  order__completed\t", "ORDER_COMPLETED", "a", "_a_", "Product  Added to\tWishlist",
		"x\ny", "A-B 1.2", "\t\t", "é Order", "Ünicode_Name"}
	chars := " _\tAaZz09-\n."
	for i := 0; i < 20000; i++ {
		b := make([]byte, i%9)
		for j := range b {
			b[j] = chars[(i*7+j*13+i/9)%len(chars)]
		}
		names = append(names, string(b))
	}
	for _, n := range names {
		if got, want := foldEvent(n), general(n); got != want {
			t.Fatalf("foldEvent(%q) = %q, want %q", n, got, want)
		}
	}
}

// BenchmarkSpecNameInTriggers is what a tool with six track presets
// spends asking ecommerceEvent() of one event, once per trigger.
func BenchmarkSpecNameInTriggers(b *testing.B) {
	c := NewCompiler(ExprLimits{})
	p, err := c.Expr("t", `ecommerceEvent() == "Order Completed"`)
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(`{"type":"track","event":"order_completed","messageId":"m","anonymousId":"a"}`)
	b.ReportAllocs()
	for b.Loop() {
		ev, err := Decode(raw, time.Now(), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		env := NewEnv(ev, "s", nil)
		for range 6 {
			if _, err := p.Eval(env); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// compactValue keeps a part without nils as it is and copies only what
// holds one; a nil object or list still comes out empty, as a copy would.
func TestCompactValueKeepsWhatHasNoNil(t *testing.T) {
	clean := map[string]any{"a": 1, "l": []any{map[string]any{"b": "x"}}}
	if got := compactValue(clean).(map[string]any); reflect.ValueOf(got).Pointer() != reflect.ValueOf(clean).Pointer() {
		t.Error("a value without nils was copied")
	}
	inner := map[string]any{"b": "x"}
	mixed := map[string]any{"drop": nil, "keep": inner, "empty": map[string]any(nil), "none": []any(nil)}
	got := compactValue(mixed).(map[string]any)
	if reflect.ValueOf(got["keep"]).Pointer() != reflect.ValueOf(inner).Pointer() {
		t.Error("a clean part of a value with nils was copied")
	}
	want := map[string]any{"keep": inner, "empty": map[string]any{}, "none": []any{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compactValue = %#v, want %#v", got, want)
	}
	if _, ok := mixed["drop"]; !ok {
		t.Error("compactValue changed its argument")
	}
	if m, ok := compactValue(map[string]any(nil)).(map[string]any); !ok || m == nil {
		t.Errorf("compactValue of a nil object = %#v, want an empty object", m)
	}
}

// plainDecimal is toNumber's way around strconv.ParseFloat for the common
// text numbers: whatever it accepts, it must read bit for bit as
// ParseFloat does (signed zeros included), and it must leave everything
// else to ParseFloat.
func TestPlainDecimalIsParseFloat(t *testing.T) {
	cases := []string{
		"0", "-0", "0.0", "-0.0", "7", "007", "12.50", "9", "59.90", "129", "5.5", "0.1", "0.3",
		"-3.25", "123456789012345", "-999999999999999", "1.00000000000001", "0.000000000000001",
		"9007199254740993", "1234567890123456", "12345678901234.5", "0.1234567890123456",
		"", "-", ".", "5.", ".5", "-.5", "+5", "1e5", "1E-3", "1_000", "0x10", "1.2.3", "--1",
		"inf", "NaN", " 1", "1 ", "١", "1,5",
	}
	for _, s := range cases {
		checkPlainDecimal(t, s)
	}
	for _, s := range []string{"12.50", "-0", "7", "123456789012345", "0.00000000000001"} {
		if _, ok := plainDecimal(s); !ok {
			t.Errorf("plainDecimal(%q) leaves it to ParseFloat; it is what it is for", s)
		}
	}
	// Every short string over the characters it reads.
	alphabet := "-.0159"
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		checkPlainDecimal(t, prefix)
		if n == 0 {
			return
		}
		for i := range len(alphabet) {
			walk(prefix+alphabet[i:i+1], n-1)
		}
	}
	walk("", 5)
}

func checkPlainDecimal(t *testing.T, s string) {
	t.Helper()
	f, ok := plainDecimal(s)
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("plainDecimal(%q) = %v, but ParseFloat refuses it: %v", s, f, err)
	}
	if math.Float64bits(f) != math.Float64bits(want) {
		t.Fatalf("plainDecimal(%q) = %v (%x), ParseFloat %v (%x)", s, f, math.Float64bits(f), want, math.Float64bits(want))
	}
}

func FuzzPlainDecimal(f *testing.F) {
	for _, s := range []string{"12.50", "-0", "1e5", "123456789012345", "0.000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkPlainDecimal(t, s) })
}
