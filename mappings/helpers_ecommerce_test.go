package mappings

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMoneyHelpers(t *testing.T) {
	const order = `{"type":"track","event":"Order Completed","properties":{"order_id":"o1","total":"27.50","revenue":25,
		"value":"20","subtotal":22.5,"shipping":"3","tax":2.0,"discount":"2.5","currency":"eur"}}`
	const revenueOnly = `{"type":"track","event":"Order Completed","properties":{"revenue":"10.50"}}`
	const valueOnly = `{"type":"track","event":"Signed Up","properties":{"value":7}}`
	const totalOnly = `{"type":"track","event":"Order Completed","properties":{"total":30}}`
	const none = `{"type":"track","event":"Order Completed","properties":{"revenue":null,"total":""}}`
	const bad = `{"type":"track","event":"Order Completed","properties":{"revenue":"ten","total":"x1","value":true}}`
	runHelperCases(t, []helperCase{
		{"revenue number", order, `revenue()`, 25.0, ""},
		{"revenue string parsed", revenueOnly, `revenue()`, 10.5, ""},
		{"revenue has no fallback", totalOnly, `revenue()`, nil, ""},
		{"revenue unparsable is an error", bad, `revenue()`, nil, `properties.revenue: not a number: "ten"`},
		{"revenue null or empty is nil", none, `revenue()`, nil, ""},

		{"total prefers total", order, `total()`, 27.5, ""},
		{"total falls back to revenue", revenueOnly, `total()`, 10.5, ""},
		{"total falls back to value", valueOnly, `total()`, 7.0, ""},
		{"total absent", none, `total()`, nil, ""},
		{"total malformed does not fall back", bad, `total()`, nil, `properties.total: not a number: "x1"`},

		{"value prefers value", order, `value()`, 20.0, ""},
		{"value falls back to revenue", revenueOnly, `value()`, 10.5, ""},
		{"value falls back to total", totalOnly, `value()`, 30.0, ""},
		{"value of a boolean is an error", bad, `value()`, nil, "properties.value: not a number: a boolean (true)"},

		{"subtotal", order, `subtotal()`, 22.5, ""},
		{"shipping", order, `shipping()`, 3.0, ""},
		{"tax", order, `tax()`, 2.0, ""},
		{"discount", order, `discount()`, 2.5, ""},
		{"money absent on identify", `{"type":"identify","traits":{}}`, `[revenue(), total(), value(), subtotal(), shipping(), tax(), discount()]`,
			[]any{nil, nil, nil, nil, nil, nil, nil}, ""},
		{"arithmetic on revenue", order, `revenue() * 100`, 2500.0, ""},
		{"absent revenue in a comparison is an error", none, `revenue() > 0`, nil, "invalid operation"},
		{"absent revenue with default", none, `(revenue() ?? 0) > 0`, false, ""},

		{"currency upper-cased", order, `currency()`, "EUR", ""},
		{"currency default USD", revenueOnly, `currency()`, "USD", ""},
		{"currency empty is USD", `{"type":"track","event":"x","properties":{"currency":"  "}}`, `currency()`, "USD", ""},
		{"currency not a string", `{"type":"track","event":"x","properties":{"currency":840}}`, `currency()`, nil, "properties.currency: want an ISO 4217 code"},
		{"currency compares as a string", order, `currency() == "EUR"`, true, ""},

		{"orderId", order, `orderId()`, "o1", ""},
		{"orderId camelCase", `{"type":"track","event":"x","properties":{"orderId":"o2"}}`, `orderId()`, "o2", ""},
		{"numeric orderId keeps digits", `{"type":"track","event":"x","properties":{"order_id":9007199254740993}}`, `orderId()`, "9007199254740993", ""},
		{"orderId not from checkout_id", `{"type":"track","event":"Checkout Started","properties":{"checkout_id":"c1"}}`, `orderId()`, nil, ""},
	})
}

func TestProductsHelper(t *testing.T) {
	const order = `{"type":"track","event":"Order Completed","properties":{"order_id":"o1","products":[
		{"product_id":"p1","sku":"S1","name":"Shirt","price":"19.99","quantity":"2","category":"Apparel","brand":"B","variant":"red",
		 "coupon":"C","position":3,"url":"https://s/p1","image_url":"https://s/p1.jpg","custom":"kept","nothing":null},
		{"id":507,"price":5},
		{"sku":"S3","price":1.5,"quantity":1.5,"imageUrl":"https://s/3.jpg"},
		"garbage", null, 7]}}`
	first := map[string]any{"product_id": "p1", "sku": "S1", "name": "Shirt", "price": 19.99, "quantity": int64(2),
		"category": "Apparel", "brand": "B", "variant": "red", "coupon": "C", "position": int64(3), "url": "https://s/p1",
		"image_url": "https://s/p1.jpg", "custom": "kept"}
	second := map[string]any{"product_id": "507", "id": int64(507), "price": 5.0, "quantity": int64(1)}
	third := map[string]any{"product_id": "S3", "sku": "S3", "price": 1.5, "quantity": 1.5, "imageUrl": "https://s/3.jpg", "image_url": "https://s/3.jpg"}
	const viewed = `{"type":"track","event":"product viewed","properties":{"product_id":"p9","name":"Hat","price":"12","currency":"usd"}}`
	const addedNoId = `{"type":"track","event":"Product Added","properties":{"name":"Sock","price":2}}`
	const customWithSku = `{"type":"track","event":"Added To Bag","properties":{"sku":"K1","price":3}}`
	const noProducts = `{"type":"track","event":"Order Completed","properties":{"order_id":"o1","revenue":5}}`
	const pageEv = `{"type":"page","name":"Home","properties":{"name":"Home","url":"https://s/"}}`
	runHelperCases(t, []helperCase{
		{"products normalised, non-objects skipped", order, `products()`, []any{first, second, third}, ""},
		{"line totals through map", order, `map(products(), .price * .quantity)`, []any{39.98, 5.0, 2.25}, ""},
		{"object literal in map", order, `map(products(), ({"id": .product_id}))`,
			[]any{map[string]any{"id": "p1"}, map[string]any{"id": "507"}, map[string]any{"id": "S3"}}, ""},
		{"quantity absent is one", order, `products()[1].quantity`, int64(1), ""},
		{"the event is not changed", order, `[products()[0].price, properties.products[0].price, properties.products[1].quantity]`,
			[]any{19.99, "19.99", nil}, ""},
		{"single-product event", viewed, `products()`, []any{map[string]any{"product_id": "p9", "name": "Hat", "price": 12.0,
			"quantity": int64(1), "currency": "usd"}}, ""},
		{"single-product spec event without id", addedNoId, `products()`, []any{map[string]any{"name": "Sock", "price": 2.0, "quantity": int64(1)}}, ""},
		{"custom event with sku is one product", customWithSku, `len(products())`, 1, ""},
		{"no products is an empty list", noProducts, `products()`, []any{}, ""},
		{"map over no products", noProducts, `map(products(), .price)`, []any{}, ""},
		{"page is never a product", pageEv, `products()`, []any{}, ""},
		{"identify has no products", `{"type":"identify","traits":{}}`, `products()`, []any{}, ""},
		{"empty products list", `{"type":"track","event":"Order Completed","properties":{"products":[]}}`, `products()`, []any{}, ""},
		{"products null falls back", `{"type":"track","event":"Product Viewed","properties":{"products":null,"product_id":"p"}}`,
			`products()[0].product_id`, "p", ""},
		{"products object is a list of one", `{"type":"track","event":"Order Completed","properties":{"products":{"product_id":"p","price":"1"}}}`,
			`products()`, []any{map[string]any{"product_id": "p", "price": 1.0, "quantity": int64(1)}}, ""},
		{"products as JSON text", `{"type":"track","event":"Order Completed","properties":{"products":"[{\"product_id\":\"p\",\"quantity\":3}]"}}`,
			`products()`, []any{map[string]any{"product_id": "p", "quantity": int64(3)}}, ""},
		{"products as JSON text keep big ids", `{"type":"track","event":"Order Completed","properties":{"products":"[{\"id\":9007199254740993}]"}}`,
			`products()[0].product_id`, "9007199254740993", ""},
		{"products not a list", `{"type":"track","event":"Order Completed","properties":{"products":12}}`, `products()`, nil, "properties.products: not a list: a number"},
		{"products bad JSON text", `{"type":"track","event":"Order Completed","properties":{"products":"p1,p2"}}`, `products()`, nil, `properties.products: not a list: "p1,p2"`},
		// A bad field stays in its product, unusable: reading it names it,
		// and the other products are fine.
		{"bad price named", `{"type":"track","event":"Order Completed","properties":{"products":[{"price":1},{"price":"ten"}]}}`,
			`num(products()[1].price)`, nil, `properties.products[1].price: not a number: "ten"`},
		{"bad price leaves the siblings usable", `{"type":"track","event":"Order Completed","properties":{"products":[{"price":1},{"price":"ten"}]}}`,
			`products()[0].price`, float64(1), ""},
		{"bad quantity named", `{"type":"track","event":"Product Added","properties":{"quantity":"lots"}}`,
			`required(products()[0].quantity, "quantity")`, nil, `properties.quantity: not a number: "lots"`},
		{"an object image_url is kept, not compared", `{"type":"track","event":"Order Completed","properties":{"products":[{"product_id":"p","image_url":{"src":"x"},"quantity":1}]}}`,
			`products()[0].image_url`, map[string]any{"src": "x"}, ""},
		{"an object product_id is left as sent", `{"type":"track","event":"Order Completed","properties":{"products":[{"product_id":{"a":1},"sku":["s"],"quantity":1}]}}`,
			`products()[0].product_id`, map[string]any{"a": int64(1)}, ""},
		{"quantity zero kept", `{"type":"track","event":"Product Removed","properties":{"product_id":"p","quantity":0}}`,
			`products()[0].quantity`, int64(0), ""},

		{"product on single-product event", viewed, `product().product_id`, "p9", ""},
		{"product of a one-product list", `{"type":"track","event":"Cart Viewed","properties":{"products":[{"sku":"A"}]}}`,
			`product().product_id`, "A", ""},
		{"product of several is nil", order, `product()`, nil, ""},
		{"product absent is nil", noProducts, `product()`, nil, ""},
		{"product of an empty list is untyped nil", `{"type":"track","event":"Cart Viewed","properties":{"products":[]}}`, `product()`, nil, ""},
		{"product of a list without objects is nil", `{"type":"track","event":"Cart Viewed","properties":{"products":["x"]}}`, `product()`, nil, ""},
		{"product bad price", `{"type":"track","event":"Product Viewed","properties":{"price":"x"}}`, `num(product().price)`, nil, `properties.price: not a number: "x"`},
	})
}

func TestSpecEventHelpers(t *testing.T) {
	ev := func(name string) string { return `{"type":"track","event":"` + name + `","properties":{}}` }
	runHelperCases(t, []helperCase{
		{"ecommerceEvent canonical", ev("order completed"), `ecommerceEvent()`, "Order Completed", ""},
		{"ecommerceEvent snake_case", ev("product_added_to_wishlist"), `ecommerceEvent()`, "Product Added to Wishlist", ""},
		{"ecommerceEvent spaces", ev("  Checkout   Step Viewed "), `ecommerceEvent()`, "Checkout Step Viewed", ""},
		{"ecommerceEvent with a name", ev("x"), `ecommerceEvent("ORDER REFUNDED")`, "Order Refunded", ""},
		{"ecommerceEvent not e-commerce", ev("Email Opened"), `ecommerceEvent()`, nil, ""},
		{"ecommerceEvent in a trigger", ev("order_completed"), `ecommerceEvent() == "Order Completed"`, true, ""},
		{"ecommerceEvent on page", `{"type":"page","name":"Order Completed"}`, `ecommerceEvent()`, nil, ""},

		{"specEvent email", ev("email link clicked"), `specEvent()`, "Email Link Clicked", ""},
		{"specEvent unsubscribed", ev("unsubscribed"), `specEvent()`, "Unsubscribed", ""},
		{"specEvent mobile", ev("application backgrounded"), `specEvent()`, "Application Backgrounded", ""},
		{"specEvent push", ev("Push Notification Bounced"), `specEvent()`, "Push Notification Bounced", ""},
		{"specEvent video", ev("video playback started"), `specEvent()`, "Video Playback Started", ""},
		{"specEvent ecommerce", ev("Cart Shared"), `specEvent()`, "Cart Shared", ""},
		{"specEvent custom is nil", ev("Level Up"), `specEvent()`, nil, ""},
		{"specEvent with a name", ev("x"), `specEvent("deep_link_opened")`, "Deep Link Opened", ""},
		{"isSpecEvent with a name", ev("x"), `isSpecEvent("Order Completed")`, true, ""},
		{"isSpecEvent custom", ev("Level Up"), `isSpecEvent()`, false, ""},
		{"isSpecEvent current", ev("application installed"), `isSpecEvent()`, true, ""},
		{"isSpecEvent identify", `{"type":"identify","traits":{}}`, `isSpecEvent()`, false, ""},
		{"isSpecEvent empty name", ev("x"), `isSpecEvent("")`, false, ""},
	})
}

func TestEmailAndMobileFieldHelpers(t *testing.T) {
	const opened = `{"type":"track","event":"Email Opened","context":{"traits":{"email":"pg@example.com"}},
		"properties":{"email_id":"18vzF7u3z","email_subject":"First shirt on us!","campaign_id":123,"campaign_name":"New Customer Discount"}}`
	const clicked = `{"type":"track","event":"Email Link Clicked","properties":{"emailId":"e2","link_url":"https://x/y","campaignId":"c2"}}`
	const push = `{"type":"track","event":"Push Notification Tapped","properties":{"campaign":{"id":"pc1","name":"Winback","medium":"Push"}}}`
	const deep = `{"type":"track","event":"deep link opened","properties":{"url":"app://open/item/1","provider":"Branch"}}`
	const product = `{"type":"track","event":"Product Viewed","properties":{"url":"https://s/p1"}}`
	runHelperCases(t, []helperCase{
		{"emailId", opened, `emailId()`, "18vzF7u3z", ""},
		{"emailId camelCase", clicked, `emailId()`, "e2", ""},
		{"emailSubject", opened, `emailSubject()`, "First shirt on us!", ""},
		{"numeric campaignId is text", opened, `campaignId()`, "123", ""},
		{"campaignId camelCase", clicked, `campaignId()`, "c2", ""},
		{"campaignId from push campaign", push, `campaignId()`, "pc1", ""},
		{"campaignName", opened, `campaignName()`, "New Customer Discount", ""},
		{"campaignName from push campaign", push, `campaignName()`, "Winback", ""},
		{"linkUrl", clicked, `linkUrl()`, "https://x/y", ""},
		{"email of the recipient", opened, `email()`, "pg@example.com", ""},
		{"deepLinkUrl", deep, `deepLinkUrl()`, "app://open/item/1", ""},
		{"deepLinkUrl not on other events", product, `deepLinkUrl()`, nil, ""},
		{"email fields absent", product, `[emailId(), emailSubject(), campaignId(), campaignName(), linkUrl()]`,
			[]any{nil, nil, nil, nil, nil}, ""},
	})
}

func TestProductsThroughAnAction(t *testing.T) {
	c := NewCompiler(ExprLimits{})
	a, err := c.Action(ActionSpec{
		Name:    "purchase",
		Trigger: `ecommerceEvent() == "Order Completed"`,
		ForEach: `products()`,
		Fields: map[string]any{
			"product_id": "item.product_id",
			"price":      "item.price",
			"quantity":   "item.quantity",
			"currency":   "currency()",
			"email":      "email()",
			"time":       "unixSeconds(timestamp)",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := helperEvent(t, `{"type":"track","event":"order_completed","timestamp":"2024-03-01T10:00:00Z",
		"properties":{"products":[{"sku":"A","price":"2.5"},{"product_id":"B","price":1,"quantity":3}]}}`)
	env := NewEnv(ev, "web", nil)
	ok, err := a.Matches(env)
	if err != nil || !ok {
		t.Fatalf("Matches = %v, %v; want true", ok, err)
	}
	out, failed, err := a.Render(env)
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	if len(out) != 2 {
		t.Fatalf("rendered %d requests; want 2", len(out))
	}
	want0 := map[string]any{"product_id": "A", "price": 2.5, "quantity": int64(1), "currency": "USD",
		"time": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC).Unix()}
	got0 := out[0].Body.(map[string]any)
	for k, v := range want0 {
		if got0[k] != v {
			t.Errorf("request 0 %s = %#v; want %#v", k, got0[k], v)
		}
	}
	if _, has := got0["email"]; has {
		t.Errorf("absent email rendered as %#v; want the field omitted", got0["email"])
	}
	if got := out[1].Body.(map[string]any)["quantity"]; got != int64(3) {
		t.Errorf("request 1 quantity = %#v; want 3", got)
	}
}

// A product sent in canonical form is the event's own map, not a copy;
// one needing a change is a copy, and the event keeps what it was sent.
func TestCanonicalProductsAreNotCopied(t *testing.T) {
	ev, err := Decode([]byte(`{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{"products":[`+
		`{"product_id":"p1","price":2.5,"quantity":2},{"product_id":"p2","price":"2.5","quantity":2}]}}`), time.Now(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sent := ev.Properties["products"].([]any)
	got, err := normalisedProducts(ev)
	if err != nil || len(got) != 2 {
		t.Fatalf("products: %v, %v", got, err)
	}
	if reflect.ValueOf(got[0]).UnsafePointer() != reflect.ValueOf(sent[0]).UnsafePointer() {
		t.Error("the canonical product was copied")
	}
	if reflect.ValueOf(got[1]).UnsafePointer() == reflect.ValueOf(sent[1]).UnsafePointer() || sent[1].(map[string]any)["price"] != "2.5" {
		t.Errorf("the product needing a change was not copied, or the event changed: %v", sent[1])
	}
}

// TestSameStringAndNumberAreSameScalar holds the unboxed comparisons
// normaliseProduct makes before writing a canonical value to sameScalar of
// the boxed value they stand for: a difference would keep a sender's value
// where the canonical one belongs, or copy a product that needed none.
func TestSameStringAndNumberAreSameScalar(t *testing.T) {
	curs := []any{nil, "", "sku-1", " sku-1", "1", int64(0), int64(1), int64(2), int64(-3), float64(0), math.Copysign(0, -1),
		float64(1), float64(2.5), float64(1 << 53), float64(1<<53 + 2), true, map[string]any{}, []any{}}
	for _, cur := range curs {
		for _, s := range []string{"", "sku-1", "1"} {
			if got, want := sameString(cur, s), sameScalar(cur, s); got != want {
				t.Errorf("sameString(%#v, %q) = %v, sameScalar says %v", cur, s, got, want)
			}
		}
		for _, f := range []float64{0, math.Copysign(0, -1), 1, 2, 2.5, -3, 1 << 53, 1<<53 + 2, 1e300} {
			for _, whole := range []bool{false, true} {
				var canonical any = f
				if whole {
					canonical = wholeOrFloat(f)
				}
				if got, want := sameNumber(cur, f, whole), sameScalar(cur, canonical); got != want {
					t.Errorf("sameNumber(%#v, %v, whole %v) = %v, sameScalar(%#v) says %v", cur, f, whole, got, canonical, want)
				}
			}
		}
	}
}

// The numbers normaliseProduct writes are boxed in the event's slabs
// (box.go): each must be the value and type the runtime's own box holds,
// past the first slab and outside the static boxes of 0..255 too.
func TestProductNumbersBoxedTogether(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{"products":[`)
	const n = 20 // more numbers than one slab of words holds
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"product_id":"p%d","price":"%d.25","quantity":"%d","position":%d}`, i, i, 250+i, 1000+i)
	}
	b.WriteString(`]}}`)
	ev, err := Decode([]byte(b.String()), time.Now(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := normalisedProducts(ev)
	if err != nil || len(got) != n {
		t.Fatalf("products: %d, %v", len(got), err)
	}
	for i, p := range got {
		m := p.(map[string]any)
		want := map[string]any{"product_id": fmt.Sprintf("p%d", i), "price": float64(i) + 0.25,
			"quantity": int64(250 + i), "position": int64(1000 + i)}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("product %d = %#v; want %#v", i, m, want)
		}
	}
}

// products() hands the VM the memoized list itself, boxed without a copy:
// every call of one event sees the same products, also from goroutines
// routing it at once (go test -race checks the memo's publication).
func TestProductsValueIsTheMemoizedList(t *testing.T) {
	raw := []byte(`{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{"products":[` +
		`{"product_id":"p1","price":"2.5"},{"sku":"s2","price":3,"quantity":"2"}]}}`)
	ev, err := Decode(raw, time.Now(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := normalisedProducts(ev)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	vals := make([]any, 8)
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := ev.productsValue()
			if err != nil {
				t.Error(err)
			}
			vals[i] = v
		}()
	}
	wg.Wait()
	list, _ := ev.memoProducts()
	for i, v := range vals {
		l, ok := v.([]any)
		if !ok || !reflect.DeepEqual(l, want) {
			t.Fatalf("call %d: products() = %#v; want %#v", i, v, want)
		}
	}
	v, _ := ev.productsValue()
	if l := v.([]any); len(l) != len(list) || &l[0] != &list[0] {
		t.Error("products() of a memoized event is not the memo's list")
	}
	// An error is memoized and returned alike.
	bad, err := Decode([]byte(`{"type":"track","event":"x","messageId":"m","userId":"u","properties":{"products":7}}`), time.Now(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, err := bad.productsValue(); v != nil || err == nil || err.Error() != "properties.products: not a list: a number" {
			t.Errorf("products() of a bad list = %#v, %v", v, err)
		}
	}
}

// commonCurrency must give what upper-casing gives, for every spelling of
// the codes it knows, and nothing for anything else (which then takes
// strings.ToUpper: non-ASCII letters, other lengths, unknown codes).
func TestCommonCurrencyIsToUpper(t *testing.T) {
	for code := range currencyBoxes {
		for mask := range 8 {
			b := []byte(code)
			for i := range b {
				if mask&(1<<i) != 0 {
					b[i] += 'a' - 'A'
				}
			}
			v, ok := commonCurrency(string(b))
			if !ok || v != strings.ToUpper(string(b)) {
				t.Errorf("commonCurrency(%q) = %#v, %v; want %q", b, v, ok, strings.ToUpper(string(b)))
			}
		}
	}
	for _, c := range []string{"", "US", "USDX", "XYZ", "u\u017fd", "ü$d", "U D", "usd "} {
		if v, ok := commonCurrency(c); ok {
			t.Errorf("commonCurrency(%q) = %#v; want it left to ToUpper", c, v)
		}
	}
}
