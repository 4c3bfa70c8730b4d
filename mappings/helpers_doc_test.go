package mappings

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The operator reference docs/helpers.md is rendered from the registry:
// each helper's signature, doc and example, with the example's result on a
// sample event. Regenerate it with
//
//	go test ./mappings -run TestHelpersDocIsCurrent -update
func init() {
	// Other golden tests of the package may define -update too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated files (docs/helpers.md) instead of comparing them")
	}
}

func updateRequested() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const helpersDocPath = "../docs/helpers.md"

// docSamples are the events the examples run against.
var docSamples = []struct{ key, title, event string }{
	{"order", "an Order Completed track call", `{
  "type": "track",
  "event": "Order Completed",
  "messageId": "msg-1",
  "userId": "u-42",
  "timestamp": "2024-03-01T10:00:00.250Z",
  "context": {
    "ip": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X)",
    "locale": "fr-FR",
    "timezone": "Europe/Paris",
    "app": {"version": "3.1.0"},
    "device": {"id": "dev-1", "type": "ios", "token": "apns-token-1", "advertisingId": "idfa-1"},
    "os": {"name": "iOS", "version": "17.2"},
    "page": {"url": "https://shop.example/checkout", "referrer": "https://www.google.com/"},
    "campaign": {"source": "newsletter", "medium": "email", "name": "spring_sale"},
    "traits": {"email": "jane@example.com", "phone": "+33 6 12 34 56 78"}
  },
  "properties": {
    "order_id": "o-1001",
    "total": "27.50",
    "revenue": 25,
    "subtotal": 23,
    "shipping": 3,
    "tax": "1.50",
    "discount": 2,
    "currency": "eur",
    "products": [
      {"product_id": "p-1", "sku": "SKU-1", "name": "T-shirt", "price": "10.00", "quantity": 2, "category": "Apparel"},
      {"sku": "SKU-2", "name": "Socks", "price": 5}
    ]
  }
}`},
	{"viewed", "a Product Viewed track call", `{
  "type": "track",
  "event": "product viewed",
  "messageId": "msg-2",
  "anonymousId": "anon-7",
  "timestamp": "2024-03-01T10:00:00Z",
  "properties": {"product_id": 507, "name": "Hat", "price": "12.50", "quantity": 2, "brand": "Acme", "url": "https://shop.example/hat"}
}`},
	{"identify", "an identify call", `{
  "type": "identify",
  "messageId": "msg-3",
  "userId": "u-42",
  "timestamp": "2024-03-01T10:00:00Z",
  "traits": {
    "email": " Jane@Example.com ",
    "phone": "+1 (555) 010-9999",
    "firstName": "Jane",
    "last_name": "Doe",
    "username": "jdoe",
    "avatar": "https://cdn.example/jane.png",
    "title": "CTO",
    "birthday": "1990-04-01",
    "gender": "female",
    "createdAt": "2023-01-02T03:04:05+01:00",
    "plan": "free",
    "company": {"name": "Initech", "plan": "enterprise"},
    "address": {"street": "1 rue de Rivoli", "city": "Paris", "state": "IDF", "postal_code": 75001, "country": "FR"}
  }
}`},
	{"email", "an Email Link Clicked track call", `{
  "type": "track",
  "event": "Email Link Clicked",
  "messageId": "msg-4",
  "userId": "u-42",
  "timestamp": "2024-03-01T10:00:00Z",
  "context": {"traits": {"email": "jane@example.com"}},
  "properties": {"email_id": "18vzF7u3z", "email_subject": "First shirt on us!", "campaign_id": 123,
    "campaign_name": "New Customer Discount", "link_id": "l-1", "link_url": "https://shop.example/offer"}
}`},
	{"deeplink", "a Deep Link Opened track call", `{
  "type": "track",
  "event": "Deep Link Opened",
  "messageId": "msg-5",
  "anonymousId": "anon-7",
  "timestamp": "2024-03-01T10:00:00Z",
  "properties": {"provider": "Branch", "url": "shopapp://product/507"}
}`},
}

// docSampleFor names the sample each helper's example runs against; the
// default is "order".
var docSampleFor = map[string]string{
	"avatar": "identify", "birthday": "identify", "city": "identify", "coalesce": "identify", "company": "identify",
	"country": "identify", "firstName": "identify", "fullName": "identify", "gender": "identify", "iso": "identify",
	"lastName": "identify", "mailchimpHash": "identify", "merge": "identify", "postalCode": "identify",
	"sha256": "identify", "sha256Email": "identify", "sha256Phone": "identify", "state": "identify",
	"street": "identify", "title": "identify", "traitsOf": "identify", "username": "identify", "md5": "identify",
	"product": "viewed", "str": "viewed", "num": "viewed",
	"emailId": "email", "emailSubject": "email", "campaignId": "email", "campaignName": "email", "linkUrl": "email",
	"deepLinkUrl": "deeplink",
}

// renderHelpersDoc renders the registry as markdown.
func renderHelpersDoc() ([]byte, error) {
	envs := map[string]*Env{}
	for _, s := range docSamples {
		ev, err := Decode([]byte(s.event), time.Date(2024, 3, 1, 10, 0, 1, 0, time.UTC), Limits{})
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", s.key, err)
		}
		envs[s.key] = NewEnv(ev, "web", nil)
	}
	c := NewCompiler(ExprLimits{})
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Mapping helpers\n\n")
	w("<!-- Generated from the helper registry (mappings/helpers_*.go) by\n")
	w("     go test ./mappings -run TestHelpersDocIsCurrent -update\n")
	w("     Do not edit by hand: change the helper's Signature, Doc or Example instead. -->\n\n")
	w("The mapping language is [expr](https://expr-lang.org/docs/language-definition) over a Segment event, plus\n")
	w("the helpers below. They encode the Segment spec's own rules: where an email can live, which money field\n")
	w("means what, how products are listed. Each entry cites the spec rule it follows.\n\n")
	w("- **Absent is nil.** A helper returns nil when the event does not carry the value (unless its entry says\n")
	w("  otherwise), and a fields leaf that is nil is omitted from the request. `a ?? b` supplies a default.\n")
	w("- **Malformed is an error.** A value that is present but unusable (a price of `\"ten\"`) is an error that\n")
	w("  names the field; the event then fails for that action with that reason, rather than being sent wrong.\n")
	w("- **Event helpers take no event argument.** `email()` reads the event being mapped; write `email()`, not\n")
	w("  `email(traits)`.\n")
	w("- **Objects inside `map()`** need parentheses: `map(products(), ({\"id\": .product_id}))`; a bare `{`\n")
	w("  there starts an expr predicate.\n\n")
	w("Examples below show their result on one of the [sample events](#sample-events), as JSON.\n\n")
	w("## Index\n\n| helper | signature | returns |\n| --- | --- | --- |\n")
	hs := Helpers()
	for _, h := range hs {
		w("| [%s](#%s) | `%s` | %s |\n", h.Name, strings.ToLower(h.Name), cell(h.Signature), cell(firstSentence(h.Doc)))
	}
	w("\n## Helpers\n")
	for _, h := range hs {
		key := docSampleFor[h.Name]
		if key == "" {
			key = "order"
		}
		w("\n### %s\n\n`%s`\n\n%s\n\n", h.Name, h.Signature, h.Doc)
		result, err := exampleResult(c, envs[key], h.Example)
		if err != nil {
			return nil, fmt.Errorf("helper %s: %w", h.Name, err)
		}
		w("Example, on the [%s sample](#sample-%s):\n\n```\n%s\n```\n\n→ `%s`\n", key, key, h.Example, result)
	}
	w("\n## Sample events\n")
	for _, s := range docSamples {
		w("\n### sample: %s\n\n%s:\n\n```json\n%s\n```\n", s.key, capitalise(s.title), s.event)
	}
	return b.Bytes(), nil
}

func exampleResult(c *Compiler, env *Env, src string) (string, error) {
	p, err := c.Expr("example", src)
	if err != nil {
		return "", err
	}
	v, err := p.Eval(env)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func TestHelpersDocIsCurrent(t *testing.T) {
	got, err := renderHelpersDoc()
	if err != nil {
		t.Fatal(err)
	}
	if updateRequested() {
		if err := os.MkdirAll(filepath.Dir(helpersDocPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(helpersDocPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(helpersDocPath)
	if err != nil {
		t.Fatalf("%v; run: go test ./mappings -run TestHelpersDocIsCurrent -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the helper registry; run: go test ./mappings -run TestHelpersDocIsCurrent -update", helpersDocPath)
	}
}

// TestHelperExamplesSucceed pins that no documented example shows an error.
func TestHelperExamplesSucceed(t *testing.T) {
	doc, err := renderHelpersDoc()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "→ `error:") || line == "→ `null`" {
			t.Errorf("an example shows no useful result: %s", line)
		}
	}
}
