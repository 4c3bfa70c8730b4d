package peercorpus

import (
	"net/url"
	"strings"
)

// The extractors of the second wave's tools that Segment defines a
// destination for (HubSpot, Intercom, PostHog, Segment's Tracking API,
// Twilio): both routers target the same public API, so one extractor reads
// both sides' requests, each API shape either side uses.
func init() {
	Extractors["hubspot"] = hubspotFields
	Extractors["intercom"] = intercomFields
	Extractors["posthog"] = posthogFields
	Extractors["segment"] = segmentFields
	Extractors["twilio"] = twilioFields
}

// hubspotFields reads contact upserts (the batch upsert's inputs, keyed by
// email; or PATCH /crm/v3/objects/contacts/{email}?idProperty=email) and
// custom behavioral events (/events/v3/send, one or a batch of inputs).
// HubSpot files both under the contact's email.
func hubspotFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		path := urlPath(r.URL)
		inputs := list(get(r.Body, "inputs"))
		if inputs == nil && r.Body != nil {
			inputs = []any{r.Body}
		}
		for _, in := range inputs {
			if name := text(get(in, "eventName")); name != "" {
				f.Identity = first(f.Identity, text(get(in, "email")), text(get(in, "objectId")), text(get(in, "utk")))
				f.Email = first(f.Email, text(get(in, "email")))
				if f.Event == "" {
					f.Event = name
					f.TimeMs = millis(get(in, "occurredAt"))
					f.DedupeID = text(get(in, "uuid"))
				}
				continue
			}
			if !strings.Contains(path, "/objects/contacts") {
				continue // companies: not a person
			}
			id := text(get(in, "id"))
			if rest, ok := cut(path, "/objects/contacts/"); ok && !strings.HasPrefix(rest, "batch") {
				id, _ = url.PathUnescape(strings.SplitN(rest, "/", 2)[0])
			}
			f.Identity = first(f.Identity, id, text(get(in, "properties", "email")))
			f.Email = first(f.Email, text(get(in, "properties", "email")))
		}
	}
	return f
}

// intercomFields reads contacts (created or updated: the identity is the
// external_id, else the email), data events (user_id, else email; the
// price metadata is the revenue, in cents) and companies (company_id).
// Contact searches are lookups, not data.
func intercomFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		path := urlPath(r.URL)
		b := r.Body
		switch {
		case strings.HasSuffix(path, "/contacts/search"), strings.HasSuffix(path, "/companies") && strings.Contains(path, "/contacts/"):
		case strings.HasSuffix(path, "/events"):
			f.Identity = first(f.Identity, text(get(b, "user_id")), text(get(b, "email")), text(get(b, "id")))
			f.Email = first(f.Email, text(get(b, "email")))
			if f.Event == "" {
				f.Event = text(get(b, "event_name"))
				f.TimeMs = millis(get(b, "created_at"))
				if cents := number(get(b, "metadata", "price", "amount")); cents != nil {
					v := *cents / 100
					f.Revenue = &v
				}
				f.Currency = text(get(b, "metadata", "price", "currency"))
			}
		case strings.HasSuffix(path, "/companies"):
			f.Identity = first(f.Identity, text(get(b, "company_id")))
		case strings.Contains(path, "/contacts"):
			f.Identity = first(f.Identity, text(get(b, "external_id")), text(get(b, "email")))
			f.Email = first(f.Email, text(get(b, "email")))
		}
	}
	return f
}

// posthogFields reads PostHog events: /batch/ (batch[]) or one event
// (/capture/, /i/v0/e/); distinct_id at the top of the event or in its
// properties, the person's email in $set, the Segment e-commerce fields as
// the event's properties carry them.
func posthogFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		events := list(get(r.Body, "batch"))
		if events == nil && get(r.Body, "event") != nil {
			events = []any{r.Body}
		}
		for _, e := range events {
			p := get(e, "properties")
			f.Identity = first(f.Identity, text(get(e, "distinct_id")), text(get(p, "distinct_id")))
			f.Email = first(f.Email, text(get(p, "$set", "email")), text(get(e, "$set", "email")))
			if f.Event != "" {
				continue
			}
			f.Event = text(get(e, "event"))
			f.TimeMs = millis(get(e, "timestamp"))
			f.DedupeID = text(get(e, "uuid"))
			f.Revenue = number(get(p, "revenue"))
			f.Currency = text(get(p, "currency"))
			f.addProducts(list(get(p, "products")), "price", "quantity", "product_id")
		}
	}
	return f
}

// segmentFields reads a Segment Tracking API batch: the first event's user
// (userId, else anonymousId), email (traits, else context.traits), name
// (the track event, the page or screen name), e-commerce properties, time
// and messageId.
func segmentFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		events := list(get(r.Body, "batch"))
		if events == nil && get(r.Body, "type") != nil {
			events = []any{r.Body}
		}
		for _, e := range events {
			if f.Identity != "" || f.Event != "" {
				break
			}
			p := get(e, "properties")
			f.Identity = first(text(get(e, "userId")), text(get(e, "anonymousId")))
			f.Email = first(text(get(e, "traits", "email")), text(get(e, "context", "traits", "email")))
			f.Event = first(text(get(e, "event")), text(get(e, "name")))
			f.TimeMs = millis(get(e, "timestamp"))
			f.DedupeID = text(get(e, "messageId"))
			f.Revenue = number(get(p, "revenue"))
			f.Currency = text(get(p, "currency"))
			f.addProducts(list(get(p, "products")), "price", "quantity", "product_id")
		}
	}
	return f
}

// twilioFields reads Messages.json requests (form bodies, decoded by either
// side's capture or given as the encoded text): the recipient is the
// identity, without WhatsApp's "whatsapp:" prefix.
func twilioFields(reqs []Request) Fields {
	var f Fields
	for _, r := range reqs {
		if !strings.HasSuffix(urlPath(r.URL), "/Messages.json") {
			continue
		}
		to := text(get(r.Body, "To"))
		if s, ok := r.Body.(string); ok {
			if v, err := url.ParseQuery(s); err == nil {
				to = v.Get("To")
			}
		}
		f.Identity = first(f.Identity, strings.TrimPrefix(to, "whatsapp:"))
	}
	return f
}
