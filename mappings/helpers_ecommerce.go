package mappings

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// E-commerce helpers, following the Segment E-commerce Events v2 spec
// (https://segment.com/docs/connections/spec/ecommerce/v2/).

const ecommerceSpec = "Segment E-commerce v2 spec (https://segment.com/docs/connections/spec/ecommerce/v2/)"

// propertyNumber reads properties.<key> as a float64: nil when absent or
// blank, an error naming the property when present but not a number.
func propertyNumber(ev *Event, key string) (any, error) {
	f, ok, err := toNumber(ev.Properties[key])
	if err != nil {
		return nil, fmt.Errorf("properties.%s: %w", key, err)
	}
	if !ok {
		return nil, nil
	}
	return f, nil
}

// firstNumber is the first of keys present in properties, as propertyNumber
// reads it. A present but malformed value is an error, not a reason to fall
// through to the next key: a total of "ten" must not become the revenue.
func firstNumber(ev *Event, keys ...string) (any, error) {
	for _, k := range keys {
		v, err := propertyNumber(ev, k)
		if err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// singleProductEvents are the v2 events whose product is described at the
// top of properties instead of in a products list.
var singleProductEvents = map[string]bool{
	"Product Clicked": true, "Product Viewed": true, "Product Added": true, "Product Removed": true,
	"Product Added to Wishlist": true, "Product Removed from Wishlist": true,
	"Wishlist Product Added to Cart": true, "Product Shared": true, "Product Reviewed": true,
}

// carriesOneProduct reports whether a track call's properties describe one
// product: a single-product event of the spec, or any event whose
// properties hold a product_id or sku but no products list.
func carriesOneProduct(ev *Event) bool {
	if ev.Type != TypeTrack || len(ev.Properties) == 0 {
		return false
	}
	if singleProductEvents[ecommerceEvents[ev.foldedName()]] {
		return true
	}
	v, _ := firstKey(ev.Properties, "product_id", "productId", "sku")
	return v != nil
}

// productList reads properties.products. ok is false when the event has no
// products list. A list sent as JSON text (form-encoded sources do that) is
// decoded; a single object is taken as a list of one.
func productList(ev *Event) (list []any, ok bool, err error) {
	switch x := ev.Properties["products"].(type) {
	case nil:
		return nil, false, nil
	case []any:
		return x, true, nil
	case map[string]any:
		return []any{x}, true, nil
	case string:
		if strings.TrimSpace(x) == "" {
			return nil, false, nil
		}
		var l []any
		dec := json.NewDecoder(strings.NewReader(x))
		dec.UseNumber() // ids keep every digit, as in Decode
		if err := dec.Decode(&l); err != nil {
			return nil, false, fmt.Errorf("properties.products: not a list: %q", truncate(x, 40))
		}
		if _, err := normaliseNumbers(l); err != nil {
			return nil, false, fmt.Errorf("properties.products: %w", err)
		}
		return l, true, nil
	default:
		return nil, false, fmt.Errorf("properties.products: not a list: %s", kindOf(x))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// normalisedProducts is products() without the registry plumbing and
// the memo (Event.memoProducts).
func normalisedProducts(ev *Event) ([]any, error) {
	list, ok, err := productList(ev)
	if err != nil {
		return nil, err
	}
	if !ok {
		if !carriesOneProduct(ev) {
			return []any{}, nil
		}
		var box slabs
		return []any{normaliseProduct(ev, ev.Properties, -1, &box)}, nil
	}
	out := make([]any, 0, len(list))
	var box slabs // the event's prices, parsed or made float64, boxed together
	for i, e := range list {
		m, isObj := e.(map[string]any)
		if !isObj {
			continue // the spec's products are objects; a stray string or null is noise
		}
		out = append(out, normaliseProduct(ev, m, i, &box))
	}
	return out, nil
}

// normaliseProduct returns the product with the spec's product fields in
// their canonical form and every other key of src kept, null values
// dropped: src itself when it is in that form already (the common case
// for a sender following the spec), else a copy, made at the first change
// (src, being the event, is shared and never changed). index is the
// product's place in properties.products, -1 for one described by
// properties itself. box holds the numbers it writes (box.go): most
// prices are written, as senders send them as text or whole numbers, and a
// box each was an allocation per product.
func normaliseProduct(ev *Event, src map[string]any, index int, box *slabs) map[string]any {
	var out map[string]any // nil until the first change: then src's copy
	own := func() {
		if out == nil {
			out = maps.Clone(src) // copies the map's storage: cheaper than inserting key by key
			if out == nil {
				out = map[string]any{}
			}
		}
	}
	// One pass over the sender's keys: nulls leave the copy, and the values
	// of the fields the spec gives a canonical form are picked up on the
	// way (nil: absent or null).
	var productID, productIDCamel, id, sku, image, imageCamel, price, quantity, position any
	for k, v := range src {
		if v == nil {
			own()
			delete(out, k)
			continue
		}
		switch k {
		case "product_id":
			productID = v
		case "productId":
			productIDCamel = v
		case "id":
			id = v
		case "sku":
			sku = v
		case "image_url":
			image = v
		case "imageUrl":
			imageCamel = v
		case "price":
			price = v
		case "quantity":
			quantity = v
		case "position":
			position = v
		}
	}
	// Each canonical value is written only where it differs from the
	// sender's: a product sent in canonical form costs little more than its
	// copy.
	set := func(key string, cur, v any) {
		if !sameScalar(cur, v) {
			own()
			out[key] = v
		}
	}
	// E-commerce v2: product_id is "Database id of the product"; id and sku
	// stand in for it when a sender used those, as v1 of the spec did (id).
	// (A value already in its canonical form is compared before it is
	// boxed: boxing a string or a number to compare it cost an allocation
	// per field of every product.)
	if v := firstOf(productID, productIDCamel, id, sku); v != nil {
		if s, ok := text(v); ok && !sameString(productID, s) {
			set("product_id", productID, s)
		}
	}
	if s, ok := text(sku); ok && !sameString(sku, s) {
		set("sku", sku, s)
	}
	if v := firstOf(image, imageCamel); v != nil {
		set("image_url", image, v)
	}
	// A field that is present but not a number is kept as an *Unusable: the
	// product stays in the list, and only a request using that field fails,
	// naming it (one bad price must not take its siblings down).
	num := func(key string, cur any, whole bool, absent any) {
		v, ok, err := toNumber(cur)
		switch {
		case err != nil:
			path := "properties"
			if index >= 0 {
				path = "properties.products[" + strconv.Itoa(index) + "]"
			}
			own()
			out[key] = &Unusable{Path: path + "." + key, Reason: err.Error()}
			ev.markUnusable()
		case ok && sameNumber(cur, v, whole):
			// Already in its canonical form: nothing to write.
		case ok && whole && exactWhole(v):
			own()
			out[key] = box.int(int64(v))
		case ok:
			own()
			out[key] = box.float(v)
		case absent != nil:
			own()
			out[key] = absent
		case cur != nil:
			own()
			delete(out, key) // blank
		}
	}
	num("price", price, false, nil)
	// E-commerce v2: quantity is "Quantity of a product"; absent means one.
	num("quantity", quantity, true, int64(1))
	num("position", position, true, nil)
	if out == nil {
		if src == nil {
			return map[string]any{}
		}
		return src
	}
	return out
}

// sameScalar reports whether a and b are the same string, number, boolean
// or null. Comparing two interfaces holding maps or lists panics (an
// image_url sent as an object did, failing every products() of its
// event): those are never the same, which costs at most a copy.
func sameScalar(a, b any) bool {
	switch a.(type) {
	case nil, string, int64, float64, bool:
		return a == b // b of another type is unequal, without comparing values
	}
	return false
}

// sameString reports whether cur is the string s: sameScalar(cur, s)
// without boxing s.
func sameString(cur any, s string) bool {
	c, ok := cur.(string)
	return ok && c == s
}

// sameNumber reports whether cur is already f in its canonical form: the
// int64 wholeOrFloat gives for a whole f when whole, else the float64.
// It is sameScalar(cur, wholeOrFloat(f)) (or sameScalar(cur, f)) without
// boxing the number.
func sameNumber(cur any, f float64, whole bool) bool {
	if whole && exactWhole(f) {
		c, ok := cur.(int64)
		return ok && c == int64(f)
	}
	c, ok := cur.(float64)
	return ok && c == f
}

// firstOf is the first of vs that is not nil.
func firstOf(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// currencyBoxes are currency()'s values for common ISO 4217 codes, each
// boxed once: senders often send the code in lower case ("usd"), and
// upper-casing it and boxing the result were two allocations per call.
// A code not listed takes the general way; the value is the same.
var currencyBoxes = func() map[string]any {
	m := map[string]any{}
	for _, c := range strings.Fields("USD EUR GBP JPY CNY CAD AUD NZD CHF SEK NOK DKK PLN CZK HUF RON BGN " +
		"INR BRL MXN ARS CLP COP PEN ZAR TRY RUB UAH ILS AED SAR KRW HKD SGD TWD THB MYR IDR PHP VND NGN EGP KES") {
		m[c] = c
	}
	return m
}()

// commonCurrency is strings.ToUpper(c) as currency() returns it when c, a
// trimmed code, is one of currencyBoxes in any case, without allocating.
func commonCurrency(c string) (any, bool) {
	if len(c) != 3 {
		return nil, false
	}
	var b [3]byte
	for i := range b {
		b[i] = c[i]
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	v, ok := currencyBoxes[string(b[:])] // the conversion does not allocate in an index
	return v, ok
}

func init() {
	money := func(name, doc string, keys ...string) {
		eventHelper(name, name+"() float64",
			doc+" Numbers sent as strings (\"10.50\") are parsed; nil when absent; a value that is not "+
				"a number is an error such as `properties."+keys[0]+": not a number: \"ten\"`, never "+
				"silently dropped.",
			name+"()",
			func(ev *Event) (any, error) { return firstNumber(ev, keys...) })
	}
	money("revenue", "Returns properties.revenue. "+ecommerceSpec+": revenue is the revenue of the order, "+
		"excluding shipping and tax (Order Completed); it is also the field Segment's analytics "+
		"destinations read as the event's revenue. No fallback: use total() or value() for those chains.",
		"revenue")
	money("total", "Returns what the customer paid: properties.total, else properties.revenue, else "+
		"properties.value. "+ecommerceSpec+": total is revenue with shipping and tax, less discounts; "+
		"senders that only track revenue (or value) get that instead.",
		"total", "revenue", "value")
	money("value", "Returns the monetary value of the event: properties.value, else properties.revenue, else "+
		"properties.total. For tools whose `value` means that (GA4 purchase value, Klaviyo $value, Meta "+
		"value). "+ecommerceSpec+": revenue is the order's value for attribution (it leaves out shipping "+
		"and tax), so it comes before total.",
		"value", "revenue", "total")
	money("subtotal", "Returns properties.subtotal. "+ecommerceSpec+": order total after discounts but before "+
		"shipping and taxes.", "subtotal")
	money("shipping", "Returns properties.shipping. "+ecommerceSpec+": shipping cost of the order.", "shipping")
	money("tax", "Returns properties.tax. "+ecommerceSpec+": total tax of the order.", "tax")
	money("discount", "Returns properties.discount. "+ecommerceSpec+": total discount of the order.", "discount")

	register(Helper{
		Name:        "currency",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("currency", params)
			if err != nil {
				return nil, err
			}
			switch c := ev.Properties["currency"].(type) {
			case nil:
				return "USD", nil
			case string:
				orig := ev.Properties["currency"]
				c = strings.TrimSpace(c)
				if v, ok := commonCurrency(c); ok {
					return v, nil
				}
				if c = strings.ToUpper(c); c == "" {
					return "USD", nil
				}
				return reboxed(orig, c), nil
			default:
				return nil, fmt.Errorf("properties.currency: want an ISO 4217 code such as \"EUR\", got %s", kindOf(c))
			}
		},
		Types:     []any{new(func(Env) string)},
		Signature: "currency() string",
		Doc: "Returns the ISO 4217 currency code of the event, \"USD\" when none is given. " + ecommerceSpec +
			": properties.currency is the currency of the transaction, and Segment assumes USD when it is " +
			"not set. The code is trimmed and upper-cased (\"eur\" → \"EUR\"); absent or empty gives \"USD\". " +
			"Never nil; a currency that is not a string is an error.",
		Example: `currency()`,
	})
	register(Helper{
		Name:        "products",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("products", params)
			if err != nil {
				return nil, err
			}
			return ev.productsValue()
		},
		Types:     []any{new(func(Env) []any)},
		Signature: "products() list",
		Doc: "Returns the event's products as a list of objects, never nil (an empty list when there are none, " +
			"so map(products(), ...) and foreach need no guard). " + ecommerceSpec + ": multi-product events " +
			"(Order Completed, Cart Viewed, Checkout Started, ...) carry properties.products; single-product " +
			"events (Product Viewed, Product Added, Product Removed, Product Clicked, Product Added to Wishlist, " +
			"...) describe the product at the top of properties, and then the list holds that one product; so " +
			"does any track call without a products list whose properties have product_id or sku. Each product " +
			"is a new object with every original key (nulls dropped) plus, normalised: product_id (a string: " +
			"product_id, else productId, else id, else sku), sku (string), price (float64, strings parsed), " +
			"quantity (whole numbers as integers, default 1 when absent: the spec's quantity counts units), " +
			"position (number), image_url (also read from imageUrl); category, brand, variant, coupon, url " +
			"and name are kept as sent. Elements that are not objects are skipped; a list sent as JSON text " +
			"is decoded. A price, quantity or position that is not a number stays in the product as an unusable " +
			"value: a request that uses it fails, naming it (for example `properties.products[1].price: not a " +
			"number: \"ten\"`), while the other products' requests go out. Inside map(), put an object literal " +
			"in parentheses, as in the example: a bare { there opens expr's predicate, not an object.",
		Example: `map(products(), ({"id": .product_id, "line_total": .price * .quantity}))`,
	})
	register(Helper{
		Name:        "product",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("product", params)
			if err != nil {
				return nil, err
			}
			// The product of a single-product event, or the one object of
			// the products list: what products() holds when it holds one.
			list, err := ev.memoProducts()
			if err != nil || len(list) != 1 {
				return nil, err // several products: no single one; not a typed nil
			}
			return list[0], nil
		},
		Types:     []any{new(func(Env) any)},
		Signature: "product() map",
		Doc: "Returns the event's one product, normalised as by products(), or nil. For single-product events of the " +
			ecommerceSpec + " (Product Viewed, Product Added, ...), the product described at the top of " +
			"properties; for an event whose products list holds exactly one product, that product. nil when " +
			"the event has no product or several.",
		Example: `product().product_id`,
	})
	register(Helper{
		Name:        "orderId",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("orderId", params)
			if err != nil {
				return nil, err
			}
			v, _ := firstKey(ev.Properties, "order_id", "orderId")
			return textOf(v), nil
		},
		Types:     []any{new(func(Env) any)},
		Signature: "orderId() string",
		Doc: "Returns the order id as a string (numeric ids keep every digit): properties.order_id, else " +
			"properties.orderId. " + ecommerceSpec + ": order_id identifies the order on Checkout Started, " +
			"Order Completed, Order Updated, Order Refunded and Order Cancelled. checkout_id is deliberately " +
			"not a fallback: it names the checkout session, not the order, and a refund (which carries " +
			"order_id) would no longer match its purchase in the tool.",
		Example: `orderId()`,
	})
	register(Helper{
		Name:        "ecommerceEvent",
		EventScoped: true,
		Fn:          specNameHelper("ecommerceEvent", ecommerceEvents),
		Types:       []any{new(func(Env) any), new(func(Env, string) any)},
		Signature:   "ecommerceEvent([name string]) string",
		Doc: "Returns the spec's spelling of the event's name when it is an e-commerce event, else nil. " +
			"It reads the track event's name, or name when given, and looks it up among the events of the " +
			ecommerceSpec + ". Names match ignoring case, surrounding spaces and '_' for ' ' " +
			"(\"order completed\", \"order_completed\" → \"Order Completed\"), so a trigger can match the " +
			"spelling senders really use: `ecommerceEvent() == \"Order Completed\"`.",
		Example: `ecommerceEvent()`,
	})
}
