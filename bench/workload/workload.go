// Package workload generates the benchmark's Segment events and the
// destination configs that route them. It is shared by `make bench`
// (bench/) and the router's go test benchmarks, so both measure the same
// events and the same 10-field mapping.
package workload

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Kinds of events in the mix.
const (
	Identify = iota
	OrderCompleted
	Page
)

// Mix is the share of each kind, in percent: identify with traits, track
// Order Completed with 3-5 products, page.
var Mix = [3]int{40, 30, 30}

// TypeOf is the Segment type of a kind.
func TypeOf(kind int) string {
	switch kind {
	case Identify:
		return "identify"
	case OrderCompleted:
		return "track"
	default:
		return "page"
	}
}

// Gen produces a reproducible stream of events: the same seed gives the
// same events in the same order.
type Gen struct {
	rnd  *rand.Rand
	base time.Time
}

// New returns a generator. Events carry timestamps from a fixed base.
func New(seed uint64) *Gen {
	return &Gen{rnd: rand.New(rand.NewPCG(seed, 0x5317c8)), base: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// ID is the messageId of event seq of a phase: "sy-<phase>-<seq>". The
// sink finds it in any body by its `"sy-` prefix.
func ID(phase byte, seq int) string {
	return "sy-" + string(phase) + "-" + strconv.Itoa(seq)
}

// AppendID appends ID(phase, seq) without allocating a string.
func AppendID(b []byte, phase byte, seq int) []byte {
	b = append(b, "sy-"...)
	b = append(b, phase, '-')
	return strconv.AppendInt(b, int64(seq), 10)
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Frances", "Donald", "Radia", "Dennis"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Allen", "Knuth", "Perlman", "Ritchie"}
	cities     = [][3]string{{"Paris", "75011", "FR"}, {"Berlin", "10115", "DE"}, {"Austin", "78701", "US"}, {"Lisbon", "1100-148", "PT"}, {"Osaka", "530-0001", "JP"}, {"Toronto", "M5V 2T6", "CA"}}
	products   = [][3]string{{"Notebook", "Stationery", "12.50"}, {"Mug", "Kitchen", "9"}, {"Backpack", "Bags", "59.90"}, {"Headphones", "Audio", "129"}, {"Pen set", "Stationery", "7.25"}, {"Lamp", "Home", "34.00"}, {"Socks", "Apparel", "5.5"}, {"Kettle", "Kitchen", "45"}}
	pages      = [][2]string{{"Home", "/"}, {"Pricing", "/pricing"}, {"Docs", "/docs/getting-started"}, {"Blog", "/blog/2026/switchyard"}, {"Checkout", "/checkout"}}
	currencies = []string{"usd", "EUR", "gbp", ""}
)

// Next returns the next event of the mix: its kind, its Segment type and
// its JSON, with messageId ID(phase, seq).
func (g *Gen) Next(phase byte, seq int) (kind int, data []byte) {
	r := g.rnd.IntN(100)
	switch {
	case r < Mix[0]:
		kind = Identify
	case r < Mix[0]+Mix[1]:
		kind = OrderCompleted
	default:
		kind = Page
	}
	return kind, g.Event(kind, phase, seq)
}

// Event returns one event of a kind.
func (g *Gen) Event(kind int, phase byte, seq int) []byte {
	rnd := g.rnd
	user := rnd.IntN(50_000)
	first, last := firstNames[rnd.IntN(len(firstNames))], lastNames[rnd.IntN(len(lastNames))]
	ts := g.base.Add(time.Duration(seq) * 7 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	b := make([]byte, 0, 1200)
	b = append(b, `{"type":"`...)
	b = append(b, TypeOf(kind)...)
	b = append(b, `","messageId":"`...)
	b = AppendID(b, phase, seq)
	b = append(b, `","anonymousId":"anon-`...)
	b = strconv.AppendInt(b, int64(user*7919%1_000_003), 16)
	hasUser := kind == Identify || rnd.IntN(10) < 8
	if hasUser {
		b = append(b, `","userId":"user-`...)
		b = strconv.AppendInt(b, int64(user), 10)
	}
	b = append(b, `","timestamp":"`...)
	b = append(b, ts...)
	b = append(b, `","sentAt":"`...)
	b = append(b, ts...)
	b = append(b, `","context":{"library":{"name":"analytics.js","version":"5.2.1"},"ip":"203.0.113.`...)
	b = strconv.AppendInt(b, int64(user%250+1), 10)
	b = append(b, `","locale":"en-US","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"`...)
	pg := pages[rnd.IntN(len(pages))]
	if kind == OrderCompleted && hasUser {
		// An identified shopper: analytics.js sends the cached traits.
		b = appendPersonTraits(b, first, last, user)
		b = append(b, `"}`...)
	}
	b = append(b, `,"page":{"path":"`...)
	b = append(b, pg[1]...)
	b = append(b, `","url":"https://shop.example`...)
	b = append(b, pg[1]...)
	b = append(b, `","title":"`...)
	b = append(b, pg[0]...)
	b = append(b, `"}}`...)
	switch kind {
	case Identify:
		c := cities[rnd.IntN(len(cities))]
		b = appendPersonTraits(b, first, last, user)
		b = append(b, `","plan":"`...)
		b = append(b, [...]string{"free", "pro", "enterprise"}[user%3]...)
		b = append(b, `","logins":`...)
		b = strconv.AppendInt(b, int64(rnd.IntN(400)), 10)
		b = append(b, `,"address":{"street":"`...)
		b = strconv.AppendInt(b, int64(1+rnd.IntN(200)), 10)
		b = append(b, ` Main Street","city":"`...)
		b = append(b, c[0]...)
		b = append(b, `","postalCode":"`...)
		b = append(b, c[1]...)
		b = append(b, `","country":"`...)
		b = append(b, c[2]...)
		b = append(b, `"},"createdAt":"2025-11-02T08:15:00.000Z"}`...)
	case OrderCompleted:
		n := 3 + rnd.IntN(3)
		b = append(b, `,"event":"Order Completed","properties":{"order_id":"ord-`...)
		b = strconv.AppendInt(b, int64(seq), 10)
		b = append(b, `","checkout_id":"chk-`...)
		b = strconv.AppendInt(b, int64(rnd.Uint32()), 16)
		var revenue float64
		items := make([]byte, 0, 600)
		for i := range n {
			p := products[rnd.IntN(len(products))]
			qty := 1 + rnd.IntN(3)
			price, _ := strconv.ParseFloat(p[2], 64)
			revenue += price * float64(qty)
			if i > 0 {
				items = append(items, ',')
			}
			items = append(items, `{"product_id":"p-`...)
			items = strconv.AppendInt(items, int64(rnd.IntN(900)+100), 10)
			items = append(items, `","sku":"SKU-`...)
			items = strconv.AppendInt(items, int64(rnd.IntN(90000)+10000), 10)
			items = append(items, `","name":"`...)
			items = append(items, p[0]...)
			items = append(items, `","category":"`...)
			items = append(items, p[1]...)
			// Strings as numbers, as real SDKs send them.
			if i%2 == 0 {
				items = append(items, `","price":"`...)
				items = append(items, p[2]...)
				items = append(items, `","quantity":"`...)
				items = strconv.AppendInt(items, int64(qty), 10)
				items = append(items, `"}`...)
			} else {
				items = append(items, `","price":`...)
				items = append(items, p[2]...)
				items = append(items, `,"quantity":`...)
				items = strconv.AppendInt(items, int64(qty), 10)
				items = append(items, '}')
			}
		}
		b = append(b, `","revenue":`...)
		b = strconv.AppendFloat(b, revenue, 'f', 2, 64)
		b = append(b, `,"shipping":"4.99","tax":`...)
		b = strconv.AppendFloat(b, revenue*0.2, 'f', 2, 64)
		b = append(b, `,"total":`...)
		b = strconv.AppendFloat(b, revenue*1.2+4.99, 'f', 2, 64)
		if c := currencies[rnd.IntN(len(currencies))]; c != "" {
			b = append(b, `,"currency":"`...)
			b = append(b, c...)
			b = append(b, '"')
		}
		b = append(b, `,"coupon":"SPRING26","products":[`...)
		b = append(b, items...)
		b = append(b, `]}`...)
	default:
		b = append(b, `,"name":"`...)
		b = append(b, pg[0]...)
		b = append(b, `","properties":{"path":"`...)
		b = append(b, pg[1]...)
		b = append(b, `","url":"https://shop.example`...)
		b = append(b, pg[1]...)
		b = append(b, `","title":"`...)
		b = append(b, pg[0]...)
		b = append(b, ` | Shop","referrer":"https://www.google.com/","search":""}`...)
	}
	b = append(b, '}')
	return b
}

// Small is a small track event (about 200 bytes), for the backlog behind
// an open breaker.
func Small(phase byte, seq int) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"type":"track","event":"Button Clicked","messageId":"`...)
	b = AppendID(b, phase, seq)
	b = append(b, `","userId":"user-`...)
	b = strconv.AppendInt(b, int64(seq%50_000), 10)
	b = append(b, `","timestamp":"2026-03-01T12:00:00.000Z","properties":{"button":"buy","variant":"b"}}`...)
	return b
}

// TypicalOrder is one fixed Order Completed event of an identified user
// (context.traits), with 3-5 products, strings as numbers included: the go
// test benchmarks' input.
func TypicalOrder() []byte {
	for seed := uint64(7); ; seed++ {
		if ev := New(seed).Event(OrderCompleted, 'T', 1); bytes.Contains(ev, []byte(`"userId"`)) {
			return ev
		}
	}
}

// TenFields is the non-batching destination's mapping: ten fields, each
// through a Segment helper or a plain field, as a CRM sync would map them.
const TenFields = `      message_id: messageId
      user_id: userIdOrAnonymousId()
      email: email()
      first_name: firstName()
      last_name: lastName()
      phone: phone()
      event: event ?? name
      revenue: revenue()
      currency: currency()
      products: 'map(products(), ({"id": .product_id, "price": .price, "quantity": .quantity}))'
`

// MappedDestination is an http destination with one 10-field action
// matching the mix's three event types, posting one request per event.
// concurrency 0 leaves rate.concurrency to its default (adaptive, up to
// max_in_flight).
func MappedDestination(source, url string, concurrency, inFlight int) string {
	rate := ""
	if concurrency > 0 {
		rate = fmt.Sprintf("  rate: {concurrency: %d}\n", concurrency)
	}
	return fmt.Sprintf(`type: http
sources: [%s]
start: all
delivery:
  max_in_flight: %d
%sactions:
  profile:
    trigger: type in ["identify", "track", "page"]
    url: %s
    fields:
%s`, source, inFlight, rate, url, TenFields)
}

// BatchingDestination is a webhook forwarding events as they came, in
// JSON-array batches of up to maxItems.
func BatchingDestination(source, url string, maxItems, inFlight int) string {
	return fmt.Sprintf(`type: webhook
sources: [%s]
start: all
settings:
  url: %s
delivery:
  max_in_flight: %d
  batch: {max_items: %d}
`, source, url, inFlight, maxItems)
}

// ForwardingDestination is a webhook forwarding each event as it came, one
// request per event, at the delivery defaults.
func ForwardingDestination(source, url string) string {
	return fmt.Sprintf("type: webhook\nsources: [%s]\nstart: all\nsettings:\n  url: %s\n", source, url)
}

// appendPersonTraits writes `,"traits":{` and the shopper's email, names and
// phone, leaving the object open for more traits.
func appendPersonTraits(b []byte, first, last string, user int) []byte {
	b = append(b, `,"traits":{"email":"`...)
	b = append(b, first...)
	b = append(b, '.')
	b = append(b, last...)
	b = strconv.AppendInt(b, int64(user), 10)
	b = append(b, `@example.com","firstName":"`...)
	b = append(b, first...)
	b = append(b, `","lastName":"`...)
	b = append(b, last...)
	b = append(b, `","phone":"+1 555 `...)
	return strconv.AppendInt(b, int64(1000000+user), 10)
}

// CatalogTool is a catalog tool of bench phase E with the settings (YAML
// lines under settings:, endpoint aside) of one of its golden cases.
type CatalogTool struct{ Name, Settings string }

// CatalogTools lists phase E's catalog tools in its order; secret is the
// environment variable their keys are read from.
func CatalogTools(secret string) []CatalogTool {
	s := "${" + secret + "}"
	return []CatalogTool{
		{"amplitude", "  api_key: " + s + "\n"},
		{"braze", "  api_key: " + s + "\n  instance: US-01\n"},
		{"mixpanel", "  project_id: \"3120345\"\n  token: " + s + "\n"},
		{"customerio", "  site_id: 46be54768e7d49ab2628\n  api_key: " + s + "\n"},
		{"ga4", "  measurement_id: G-T40PE6KET4\n  api_secret: " + s + "\n"},
		{"iterable", "  api_key: " + s + "\n"},
		{"posthog", "  api_key: " + s + "\n"},
		{"segment", "  write_key: " + s + "\n"},
		{"sendgrid", "  api_key: " + s + "\n"},
		{"airship", "  access_token: " + s + "\n  app_key: ISex_TTJRuarzs9-o_Gkhg\n"},
		{"intercom", "  access_token: " + s + "\n"},
	}
}
