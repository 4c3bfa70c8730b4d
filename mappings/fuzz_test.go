package mappings_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mappings"
)

// The fuzzers of the event model and the mapping language. Their seed
// corpora live in testdata/fuzz/<FuzzName>/ (written by
// scripts/fuzzseeds.go from the peer corpus and the catalog's golden
// events); `make fuzz` runs each briefly, `scripts/fuzz.sh 10m` longer.

var fuzzNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzDecode: Decode never panics, refuses with an *InvalidError only, and
// whatever it accepts is an event the rest of the router can rely on.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"track","messageId":"m-1","userId":"u-1","event":"Order Completed","properties":{"revenue":10}}`))
	f.Add([]byte(`{"type":"identify","messageId":7,"anonymousId":"a","traits":{"email":"a@b.c"},"timestamp":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"group","messageId":"g","userId":1e400,"groupId":12345678901234567890}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"type":"alias","messageId":"a","userId":"u","previousId":"p","sentAt":"2024-01-01T00:00:00Z","receivedAt":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := mappings.Limits{MaxBytes: 64 << 10, MaxDepth: 16, MaxProperties: 64}
		ev, err := mappings.Decode(data, fuzzNow, lim)
		if err != nil {
			if !mappings.IsInvalid(err) {
				t.Fatalf("error is not an *InvalidError: %T %v", err, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		checkEvent(t, ev)
		// What was accepted is accepted again once re-encoded (a DLQ
		// replay, a forward to a webhook), as the same event.
		again, err := json.Marshal(ev.Raw)
		if err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
		ev2, err := mappings.Decode(again, fuzzNow, mappings.Limits{MaxBytes: 1 << 30, MaxDepth: 16, MaxProperties: 64})
		if err != nil {
			t.Fatalf("re-encoded event refused: %v\n%s", err, again)
		}
		if ev2.MessageID != ev.MessageID || ev2.Type != ev.Type || ev2.UserID != ev.UserID || ev2.AnonymousID != ev.AnonymousID {
			t.Fatalf("re-encoded event differs: %+v vs %+v", ev2, ev)
		}
		// Every event gets an expression environment.
		env := mappings.NewEnv(ev, "web", nil)
		if env.MessageID != ev.MessageID || env.Type != ev.Type {
			t.Fatalf("env %+v", env)
		}
	})
}

func checkEvent(t *testing.T, ev *mappings.Event) {
	t.Helper()
	if ev.MessageID == "" {
		t.Fatal("accepted without a messageId")
	}
	if !slices.Contains(mappings.EventTypes, ev.Type) {
		t.Fatalf("accepted with type %q", ev.Type)
	}
	if ev.UserID == "" && ev.AnonymousID == "" {
		t.Fatal("accepted without userId or anonymousId")
	}
	if ev.Raw == nil || ev.Timestamp.IsZero() {
		t.Fatalf("accepted without raw fields or a timestamp: %+v", ev)
	}
	if ev.Type == mappings.TypeTrack && ev.Name() == "" {
		t.Fatal("track accepted without an event name")
	}
}

// fuzzEvent is the event the expression fuzzers evaluate against.
func fuzzEvent(t testing.TB) *mappings.Event {
	ev, err := mappings.Decode([]byte(`{"type":"track","messageId":"m-1","userId":"u-1","anonymousId":"a-1","event":"Order Completed",
		"properties":{"order_id":"o-1","revenue":"12.5","currency":"eur","products":[{"product_id":"p","price":"3","quantity":2},{"sku":"s","price":null},7]},
		"context":{"traits":{"email":" Ada@Example.COM ","phone":"+1 555 0100","name":"Ada Lovelace"},"ip":"1.2.3.4","locale":"en-GB"},
		"timestamp":"2024-02-29T23:59:59.999+01:00","sentAt":"2024-03-01T00:00:00Z"}`), fuzzNow, mappings.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

var fuzzSettings = map[string]any{"api_key": "k-123456", "region": "eu", "endpoint": "https://api.example.com/v1", "n": int64(3)}

// FuzzExpr: compiling any text never panics, and a compiled expression
// evaluates (within the memory budget) to a value or an error, never a
// panic, whatever helpers it calls.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		`type == "track" && event == "Order Completed"`,
		`map(products(), {"id": .product_id, "price": .price})`,
		`email() ?? lower(traits.email)`,
		`revenue() * 100 / len(products())`,
		`sha256(lower(trim(email())))`,
		`map(1..100000, #)`,
		`properties.products[0].price + "x"`,
		`unixMillis(timestamp) + len(products()) * total()`,
		`toJSON(raw) | fromJSON()`,
		`settings.api_key + userIdOrAnonymousId()`,
		`let x = 1; x + ` + strings.Repeat("(1 + ", 30) + "1" + strings.Repeat(")", 30),
	} {
		f.Add(s)
	}
	c := mappings.NewCompiler(mappings.ExprLimits{MaxNodes: 200, MemoryBudget: 10_000})
	ev := fuzzEvent(f)
	f.Fuzz(func(t *testing.T, src string) {
		for _, compile := range []func(string, string) (*mappings.Program, error){c.Expr, c.Bool} {
			p, err := compile("fuzz", src)
			if err != nil {
				_ = checkExprError(t, err)
				continue
			}
			env := mappings.NewEnv(ev, "web", fuzzSettings)
			if _, err := p.Eval(env); err != nil {
				_ = checkExprError(t, err)
			}
		}
	})
}

// FuzzTemplate: a URL or header template of any text compiles or is
// refused with a position, and renders without a panic.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`{{ settings.endpoint }}/users/{{ userIdOrAnonymousId() }}?ref={{ messageId }}`,
		`Bearer {{ settings.api_key }}`,
		`https://x.test/{{ properties.products[0].sku ?? "none" }}/{{`,
		`{{}}{{ }}}}{{ 1 +`,
		`plain text`,
	} {
		f.Add(s)
	}
	c := mappings.NewCompiler(mappings.ExprLimits{MaxNodes: 200, MemoryBudget: 10_000})
	ev := fuzzEvent(f)
	f.Fuzz(func(t *testing.T, src string) {
		for _, mode := range []mappings.TemplateMode{mappings.TemplateURL, mappings.TemplateText} {
			tm, err := c.Template("url", src, mode)
			if err != nil {
				ee := checkExprError(t, err)
				if ee.Line < 1 || ee.Column < 1 {
					t.Fatalf("template error without a position: %+v", ee)
				}
				continue
			}
			out, err := tm.Render(mappings.NewEnv(ev, "web", fuzzSettings))
			if err != nil {
				_ = checkExprError(t, err)
			}
			// Bound to the settings, it renders the same text, or the same
			// error.
			bout, berr := tm.Bind(fuzzSettings).Render(mappings.NewEnv(ev, "web", fuzzSettings))
			if bout != out || (berr == nil) != (err == nil) || (err != nil && berr.Error() != err.Error()) {
				t.Fatalf("%q bound renders %q, %v; unbound %q, %v", src, bout, berr, out, err)
			}
		}
	})
}

// checkExprError: every compile or run-time error is an *ExprError naming
// its path.
func checkExprError(t *testing.T, err error) *mappings.ExprError {
	t.Helper()
	ee, ok := err.(*mappings.ExprError)
	if !ok {
		t.Fatalf("error is not an *ExprError: %T %v", err, err)
	}
	if ee.Path == "" || ee.Message == "" {
		t.Fatalf("error without a path or message: %+v", ee)
	}
	return ee
}
