package peercorpus

import "strings"

// Fields are the Segment semantics a tool's requests carry, reduced to a
// form both routers' requests can be compared in.
type Fields struct {
	Identity string // the user the tool files the data under
	Email    string
	Event    string // the event name the tool records
	Revenue  *float64
	Prices   []float64
	Quantity []float64
	Currency string
	Products []string // product ids
	TimeMs   *int64
	// Value is a monetary value the tool records apart from revenue
	// (GA4's value param of non-purchase events, Klaviyo's value).
	Value *float64
	// DedupeID is the key the tool drops duplicates by (Amplitude's
	// insert_id, Mixpanel's $insert_id, Klaviyo's unique_id, ...).
	DedupeID string
}

// FieldNames lists the compared fields, in report order.
var FieldNames = []string{"identity", "email", "event", "revenue", "price", "quantity", "currency", "product ids", "time", "value", "dedupe id"}

// Extractor reduces one router's requests for one input to Fields. Both
// routers target the same public API, so one extractor reads both; where
// the peer uses an older API shape (Klaviyo's, OneSignal's, SendGrid's
// internal contact format) the extractor reads that too.
type Extractor func(reqs []Request) Fields

// Extractors are the per-tool extractors.
var Extractors = map[string]Extractor{
	"amplitude":  amplitudeFields,
	"mixpanel":   mixpanelFields,
	"ga4":        ga4Fields,
	"braze":      brazeFields,
	"customerio": customerioFields,
	"iterable":   iterableFields,
	"klaviyo":    klaviyoFields,
	"sendgrid":   sendgridFields,
	"mailchimp":  mailchimpFields,
	"onesignal":  onesignalFields,
	"airship":    airshipFields,
}

// Extract applies the tool's extractor; a tool without one yields no fields.
func Extract(tool string, reqs []Request) Fields {
	if x, ok := Extractors[tool]; ok {
		return x(reqs)
	}
	return Fields{}
}

func amplitudeFields(reqs []Request) Fields {
	var f Fields
	var events []map[string]any
	for _, r := range reqs {
		body := r.Body
		// The Identify API (/identify) takes a form whose identification
		// is a JSON text: one user-properties update, or a list of them.
		if id, ok := get(body, "identification").(string); ok {
			for _, e := range asList(decodeText(id)) {
				if m, ok := e.(map[string]any); ok {
					m["event_type"] = "$identify"
					events = append(events, m)
				}
			}
			continue
		}
		for _, e := range list(get(body, "events")) {
			if m, ok := e.(map[string]any); ok {
				events = append(events, m)
			}
		}
	}
	if len(events) == 0 {
		return f
	}
	main := events[0]
	for _, e := range events {
		if text(e["event_type"]) != "Product Purchased" {
			main = e
			break
		}
	}
	f.Identity = first(text(main["user_id"]), text(main["device_id"]))
	f.Email = first(text(get(main, "user_properties", "$set", "email")), text(get(main, "user_properties", "email")))
	// $identify and $groupidentify update properties: Amplitude records
	// no event for them.
	if name := text(main["event_type"]); !strings.HasPrefix(name, "$") {
		f.Event = name
	}
	f.DedupeID = text(main["insert_id"])
	f.Revenue = number(main["revenue"])
	f.Currency = text(get(main, "event_properties", "currency"))
	f.TimeMs = millis(main["time"])
	for _, e := range events {
		f.addPrice(e["price"])
		f.addQuantity(e["quantity"])
		id := text(e["productId"])
		if id == "" && text(e["event_type"]) == "Product Purchased" {
			id = text(get(e, "event_properties", "product_id"))
		}
		f.addProduct(id)
	}
	return f
}

func mixpanelFields(reqs []Request) Fields {
	var f Fields
	var event, profile, merge map[string]any
	for _, r := range reqs {
		body := r.Body
		// /track and /engage also take a form whose data is a JSON text.
		if d, ok := get(body, "data").(string); ok {
			body = decodeText(d)
		}
		for _, e := range asList(body) {
			m, _ := e.(map[string]any)
			switch {
			case m == nil:
			case text(m["event"]) == "$identify" || text(m["event"]) == "$merge":
				// An identity merge, not an event Mixpanel reports.
				merge = m
			case m["event"] != nil && event == nil:
				event = m
			case m["$set"] != nil && profile == nil:
				profile = m
			}
		}
	}
	if merge != nil {
		p := get(merge, "properties")
		f.Identity = first(text(get(p, "$identified_id")), text(get(p, "distinct_id")), text(get(p, "$anon_id")))
	}
	if profile != nil {
		f.Identity = text(profile["$distinct_id"])
		f.Email = text(get(profile, "$set", "$email"))
	}
	if event != nil {
		p := get(event, "properties")
		// With Simplified ID Merge an anonymous event may carry its user
		// as $device_id alone, with an empty distinct_id.
		f.Identity = first(text(get(p, "distinct_id")), text(get(p, "$user_id")), text(get(p, "$device_id")))
		f.DedupeID = text(get(p, "$insert_id"))
		f.Event = text(event["event"])
		f.Revenue = number(get(p, "revenue"))
		f.Currency = text(get(p, "currency"))
		f.TimeMs = millis(get(p, "time"))
		f.Email = first(f.Email, text(get(p, "$email")), text(get(p, "email")))
		f.addProducts(list(get(p, "products")), "price", "quantity", "product_id")
	}
	// Simplified ID Merge names anonymous users "$device:<id>" in the
	// peer's profile updates; the id is the same user.
	f.Identity = strings.TrimPrefix(f.Identity, "$device:")
	return f
}

func ga4Fields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		b := r.Body
		ev := get(list(get(b, "events")), "0")
		if ev == nil {
			continue
		}
		// GA4 reports under user_id when one is sent (its User-ID
		// identity), else under the client_id.
		f.Identity = first(text(get(b, "user_id")), text(get(b, "client_id")))
		f.Event = text(get(ev, "name"))
		if f.Event == "purchase" || f.Event == "refund" {
			f.Revenue = number(get(ev, "params", "value"))
		} else {
			f.Value = number(get(ev, "params", "value"))
		}
		f.Currency = text(get(ev, "params", "currency"))
		f.TimeMs = millis(get(b, "timestamp_micros"))
		f.addProducts(list(get(ev, "params", "items")), "price", "quantity", "item_id")
		break
	}
	return f
}

func brazeFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		b := r.Body
		for _, kind := range []string{"attributes", "events", "purchases"} {
			for _, o := range list(get(b, kind)) {
				// Braze also files objects by email alone (an identifier since
				// 2023, https://www.braze.com/docs/api/endpoints/user_data/post_user_track/).
				f.Identity = first(f.Identity, text(get(o, "external_id")), text(get(o, "user_alias", "alias_name")), text(get(o, "braze_id")), text(get(o, "email")))
				f.Email = first(f.Email, text(get(o, "email")))
			}
		}
		if e := get(list(get(b, "events")), "0"); e != nil && f.Event == "" {
			f.Event = text(get(e, "name"))
			f.TimeMs = millis(get(e, "time"))
		}
		for _, p := range list(get(b, "purchases")) {
			f.addPrice(get(p, "price"))
			f.addQuantity(get(p, "quantity"))
			f.addProduct(text(get(p, "product_id")))
			f.Currency = first(f.Currency, text(get(p, "currency")))
			if f.TimeMs == nil {
				f.TimeMs = millis(get(p, "time"))
			}
		}
	}
	return f
}

func customerioFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		path := urlPath(r.URL)
		if rest, ok := cut(path, "/customers/"); ok {
			// A v1 path names a person by cio_id as cio_<id>; v2 says
			// identifiers.cio_id: <id>. Both are the same person.
			f.Identity = first(f.Identity, strings.TrimPrefix(strings.SplitN(rest, "/", 2)[0], "cio_"))
		}
		ops := list(get(r.Body, "batch"))
		if ops == nil && r.Body != nil {
			ops = []any{r.Body}
		}
		for _, op := range ops {
			f.Identity = first(f.Identity, text(get(op, "identifiers", "id")), text(get(op, "identifiers", "email")),
				text(get(op, "identifiers", "cio_id")), text(get(op, "identifiers", "anonymous_id")), text(get(op, "anonymous_id")))
			f.Email = first(f.Email, text(get(op, "email")), text(get(op, "attributes", "email")), text(get(op, "identifiers", "email")))
			if name := text(get(op, "name")); name != "" && f.Event == "" && (strings.Contains(path, "events") || get(op, "action") != nil) {
				f.Event = name
				f.DedupeID = text(get(op, "id"))
				f.Revenue = number(first(get(op, "data", "revenue"), get(op, "attributes", "revenue")))
				f.Currency = text(first(get(op, "data", "currency"), get(op, "attributes", "currency")))
				f.addProducts(list(first(get(op, "data", "products"), get(op, "attributes", "products"))), "price", "quantity", "product_id")
			}
			if f.TimeMs == nil {
				f.TimeMs = millis(first(get(op, "timestamp"), get(op, "_timestamp")))
			}
		}
	}
	return f
}

func iterableFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		path := urlPath(r.URL)
		records := list(first(get(r.Body, "events"), get(r.Body, "users")))
		if records == nil {
			records = []any{r.Body}
		}
		for _, o := range records {
			f.Identity = first(f.Identity, text(get(o, "userId")), text(get(o, "user", "userId")))
			f.Email = first(f.Email, text(get(o, "email")), text(get(o, "user", "email")))
			switch {
			case strings.Contains(path, "trackPurchase"):
				f.Event = first(f.Event, "trackPurchase")
				f.Revenue = number(get(o, "total"))
			case strings.Contains(path, "updateCart"):
				f.Event = first(f.Event, "updateCart")
			default:
				f.Event = first(f.Event, text(get(o, "eventName")))
			}
			if f.TimeMs == nil {
				f.TimeMs = millis(get(o, "createdAt"))
			}
			f.DedupeID = first(f.DedupeID, text(get(o, "id")))
			f.addProducts(list(get(o, "items")), "price", "quantity", "id")
		}
	}
	if f.Identity == "" {
		f.Identity = f.Email // Iterable files email-keyed projects under the email
	}
	return f
}

func klaviyoFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		a := get(r.Body, "data", "attributes")
		if a == nil {
			a = r.Body // the legacy /api/track and /api/identify shapes
		}
		prof := first(get(a, "profile", "data", "attributes"), get(a, "profile"), get(a, "customer_properties"))
		if prof == nil && text(get(r.Body, "data", "type")) == "profile" {
			prof = a
		}
		f.Identity = first(f.Identity, text(get(prof, "external_id")), text(get(prof, "$id")), text(get(prof, "email")), text(get(prof, "$email")))
		f.Email = first(f.Email, text(get(prof, "email")), text(get(prof, "$email")))
		name := first(text(get(a, "metric", "data", "attributes", "name")), text(get(a, "metric", "name")), text(get(a, "event")))
		if name == "" || f.Event != "" {
			continue
		}
		p := get(a, "properties")
		f.Event = name
		f.Revenue = number(first(get(a, "value"), get(p, "$value"), get(p, "value")))
		f.Currency = text(first(get(a, "value_currency"), get(p, "currency")))
		f.TimeMs = millis(get(a, "time"))
		f.DedupeID = text(get(a, "unique_id"))
		f.addProduct(text(first(get(p, "ProductID"), get(p, "product_id"))))
		f.addPrice(first(get(p, "Price"), get(p, "price")))
		f.addQuantity(first(get(p, "Quantity"), get(p, "quantity")))
		f.addProducts(list(first(get(p, "products"), get(p, "Items"))), "price", "quantity", "product_id")
	}
	return f
}

func sendgridFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		c := first(get(list(get(r.Body, "contacts")), "0"), get(r.Body, "contactDetails"))
		f.Identity = first(f.Identity, text(get(c, "external_id")), text(get(c, "email")))
		f.Email = first(f.Email, text(get(c, "email")), text(get(list(get(list(get(r.Body, "personalizations")), "0", "to")), "0", "email")))
	}
	return f
}

func mailchimpFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		if rest, ok := cut(urlPath(r.URL), "/members/"); ok {
			f.Identity = first(f.Identity, strings.SplitN(rest, "/", 2)[0])
		}
		f.Email = first(f.Email, text(get(r.Body, "email_address")))
		if strings.HasSuffix(urlPath(r.URL), "/events") && f.Event == "" {
			f.Event = text(get(r.Body, "name"))
			f.TimeMs = millis(get(r.Body, "occurred_at"))
		}
	}
	return f
}

func onesignalFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		path := urlPath(r.URL)
		b := r.Body
		f.Identity = first(f.Identity, text(get(b, "identity", "external_id")), text(get(b, "external_user_id")))
		if rest, ok := cut(path, "/external_id/"); ok {
			f.Identity = first(f.Identity, strings.SplitN(rest, "/", 2)[0])
		} else if rest, ok := cut(path, "/users/"); ok {
			f.Identity = first(f.Identity, strings.SplitN(rest, "/", 2)[0])
		}
		for _, s := range list(get(b, "subscriptions")) {
			if strings.EqualFold(text(get(s, "type")), "Email") {
				f.Email = first(f.Email, text(get(s, "token")))
			}
		}
		if text(get(b, "device_type")) == "11" { // the v1 players API's email device
			f.Email = first(f.Email, text(get(b, "identifier")))
		}
		for _, e := range list(get(b, "events")) {
			f.Identity = first(f.Identity, text(get(e, "external_id")))
			if f.Event == "" {
				f.Event = text(get(e, "name"))
				f.TimeMs = millis(get(e, "timestamp"))
			}
		}
	}
	return f
}

// airshipFields reads Airship's custom events (an array of events) and
// attribute updates.
func airshipFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		for _, e := range asList(r.Body) {
			f.Identity = first(f.Identity, text(get(e, "user", "named_user_id")), text(get(e, "user", "channel")),
				text(get(e, "audience", "named_user_id")))
			for _, a := range list(get(e, "attributes")) {
				if text(get(a, "key")) == "email" {
					f.Email = first(f.Email, text(get(a, "value")))
				}
			}
			if name := text(get(e, "body", "name")); name != "" && f.Event == "" {
				f.Event = name
				f.Value = number(get(e, "body", "value"))
				f.TimeMs = millis(get(e, "occurred"))
			}
		}
	}
	return f
}
