package mappings

import (
	"fmt"
	"net/url"
	"strings"
)

// Identity helpers: who the event is about, following the Segment Identify
// spec's reserved traits (https://segment.com/docs/connections/spec/identify/#traits)
// and the Common Fields spec's context.traits
// (https://segment.com/docs/connections/spec/common/#context).

const (
	identifySpec = "Segment Identify spec (https://segment.com/docs/connections/spec/identify/#traits)"
	commonSpec   = "Segment Common Fields spec (https://segment.com/docs/connections/spec/common/#context)"
	groupSpec    = "Segment Group spec (https://segment.com/docs/connections/spec/group/#traits)"
)

// personTraits lists, in order of precedence, the trait objects that
// describe the person behind ev. An identify call's traits are the user's;
// on every other call, the group call included, the user's traits travel in
// context.traits (a group call's own traits describe the group, not the
// person: Segment Group spec).
//
// fromTop has read both already: ev.Traits is the traits of an identify or
// group call and context.traits of any other (each an object or nil, as it
// validated them), so for an event it validated (top.noted) they are taken
// from there, not looked up again by each of an action's person helpers.
func personTraits(ev *Event) [2]map[string]any {
	switch {
	case ev.top.noted && ev.Type == TypeIdentify:
		return [2]map[string]any{ev.Traits, asMap(ev.Context["traits"])}
	case ev.top.noted && ev.Type != TypeGroup:
		return [2]map[string]any{ev.Traits, nil}
	}
	ctx := asMap(ev.Context["traits"])
	if ev.Type == TypeIdentify {
		return [2]map[string]any{asMap(ev.Raw["traits"]), ctx}
	}
	return [2]map[string]any{ctx, nil}
}

// personText returns the first non-blank value among keys in the person's
// traits, as trimmed text; with inProperties, a track call's properties are
// read last (the e-commerce and email specs' events often carry the email
// there). Blank values are skipped, so "" in traits falls through to
// context.traits.
func personText(ev *Event, inProperties bool, keys ...string) any {
	for _, t := range personTraits(ev) {
		for _, k := range keys {
			if s, ok := text(t[k]); ok {
				return reboxed(t[k], s)
			}
		}
	}
	if inProperties && ev.Type == TypeTrack {
		for _, k := range keys {
			if s, ok := text(ev.Properties[k]); ok {
				return reboxed(ev.Properties[k], s)
			}
		}
	}
	return nil
}

// addressText reads one address field: traits.address.<key> (the spec's
// place), else the same key at the top of the traits.
func addressText(ev *Event, keys ...string) any {
	for _, t := range personTraits(ev) {
		if t == nil {
			continue
		}
		addr := asMap(t["address"])
		for _, k := range keys {
			if s, ok := text(addr[k]); ok {
				return s
			}
		}
		for _, k := range keys {
			if s, ok := text(t[k]); ok {
				return s
			}
		}
	}
	return nil
}

// fullName follows the spec's name rule: traits.name, else first and last
// names joined (Segment fills name in from firstName and lastName).
func fullName(ev *Event) any {
	if s := personText(ev, false, "name"); s != nil {
		return s
	}
	first, _ := personText(ev, false, "firstName", "first_name").(string)
	last, _ := personText(ev, false, "lastName", "last_name").(string)
	switch {
	case first != "" && last != "":
		return first + " " + last
	case first != "":
		return first
	case last != "":
		return last
	}
	return nil
}

// nameParts splits traits.name the way Segment's facade does when only a
// full name was sent: the first word is the first name, the rest the last.
func nameParts(ev *Event) (first, last string) {
	name, _ := personText(ev, false, "name").(string)
	first, last, _ = strings.Cut(name, " ")
	return first, strings.TrimSpace(last)
}

// eventHelper registers an event-scoped helper without arguments.
func eventHelper(name, sig, doc, example string, get func(*Event) (any, error)) {
	register(Helper{
		Name:        name,
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf(name, params)
			if err != nil {
				return nil, err
			}
			return get(ev)
		},
		Types:     []any{new(func(Env) any)},
		Signature: sig,
		Doc:       doc,
		Example:   example,
	})
}

// identityHelper registers an event-scoped helper that cannot fail.
func identityHelper(name, sig, doc, example string, get func(*Event) any) {
	eventHelper(name, sig, doc, example, func(ev *Event) (any, error) { return get(ev), nil })
}

func init() {
	identityHelper("userIdOrAnonymousId", "userIdOrAnonymousId() string",
		"Returns userId, else anonymousId, as a string (numeric ids are sent as their decimal text). "+
			commonSpec+": every call carries a userId or an anonymousId, and a userId, once known, is the "+
			"identity to prefer.",
		`userIdOrAnonymousId()`,
		func(ev *Event) any {
			if ev.UserID != "" {
				return reboxed(ev.Raw["userId"], ev.UserID)
			}
			if ev.AnonymousID == "" {
				return nil
			}
			return reboxed(ev.Raw["anonymousId"], ev.AnonymousID)
		})
	identityHelper("email", "email() string",
		"Returns the user's email address, trimmed (case kept; sha256Email lower-cases). "+identifySpec+
			": reserved trait `email`. On identify it is read from traits, then context.traits; on track, page "+
			"and screen from context.traits, where the SDKs carry the user's traits (Common Fields spec), then, "+
			"for track only, from properties.email, where the e-commerce and email specs' events often carry it. "+
			"On a group call traits describe the group (Group spec: traits.email is the group's address), so "+
			"email() reads only context.traits there; use traits.email for the group's own address.",
		`email()`,
		func(ev *Event) any {
			for _, t := range personTraits(ev) {
				if s, ok := t["email"].(string); ok && strings.TrimSpace(s) != "" {
					return reboxed(t["email"], strings.TrimSpace(s))
				}
			}
			if ev.Type == TypeTrack {
				if s, ok := ev.Properties["email"].(string); ok && strings.TrimSpace(s) != "" {
					return reboxed(ev.Properties["email"], strings.TrimSpace(s))
				}
			}
			return nil
		})
	identityHelper("phone", "phone() string",
		"Returns the user's phone number, trimmed and otherwise as sent (a JSON number becomes its digits); "+
			"sha256Phone normalises it. "+identifySpec+": reserved trait `phone`, looked up like email(): "+
			"identify traits, then context.traits, then properties.phone on track; never a group's own traits.",
		`phone()`,
		func(ev *Event) any { return personText(ev, true, "phone") })
	identityHelper("firstName", "firstName() string",
		"Returns the user's first name, trimmed. "+identifySpec+": reserved trait `firstName` (also accepted "+
			"as `first_name`); when only the full name `name` was sent, its first word, as Segment's own "+
			"identify facade does. Read from identify traits, else context.traits.",
		`firstName()`,
		func(ev *Event) any {
			if s := personText(ev, false, "firstName", "first_name"); s != nil {
				return s
			}
			first, _ := nameParts(ev)
			return nonEmpty(first)
		})
	identityHelper("lastName", "lastName() string",
		"Returns the user's last name, trimmed. "+identifySpec+": reserved trait `lastName` (also accepted "+
			"as `last_name`); when only the full name `name` was sent, everything after its first word (nil for "+
			"a one-word name). Read from identify traits, else context.traits.",
		`lastName()`,
		func(ev *Event) any {
			if s := personText(ev, false, "lastName", "last_name"); s != nil {
				return s
			}
			_, last := nameParts(ev)
			return nonEmpty(last)
		})
	identityHelper("fullName", "fullName() string",
		"Returns the user's full name. "+identifySpec+": reserved trait `name`, which Segment fills in from "+
			"`firstName` and `lastName` when only those were sent; so: traits.name, else firstName + \" \" + "+
			"lastName (either alone when only one is known; snake_case spellings accepted). Named fullName "+
			"because `name` is the page or screen name field of the event itself.",
		`fullName()`,
		fullName)
	identityHelper("username", "username() string",
		"Returns the user's username. "+identifySpec+": reserved trait `username` (unique to each user). "+
			"Identify traits, else context.traits.",
		`username()`,
		func(ev *Event) any { return personText(ev, false, "username") })
	identityHelper("avatar", "avatar() string",
		"Returns the URL of the user's avatar image. "+identifySpec+": reserved trait `avatar`. Identify "+
			"traits, else context.traits.",
		`avatar()`,
		func(ev *Event) any { return personText(ev, false, "avatar") })
	identityHelper("title", "title() string",
		"Returns the user's job title. "+identifySpec+": reserved trait `title`. Identify traits, else "+
			"context.traits.",
		`title()`,
		func(ev *Event) any { return personText(ev, false, "title") })
	identityHelper("birthday", "birthday() string",
		"Returns the user's birthday as sent (the spec asks for an ISO-8601 date; apply iso() for a full "+
			"timestamp). "+identifySpec+": reserved trait `birthday`. Identify traits, else context.traits.",
		`birthday()`,
		func(ev *Event) any { return personText(ev, false, "birthday") })
	identityHelper("gender", "gender() string",
		"Returns the user's gender as sent. "+identifySpec+": reserved trait `gender`. Identify traits, else "+
			"context.traits.",
		`gender()`,
		func(ev *Event) any { return personText(ev, false, "gender") })
	identityHelper("company", "company() string",
		"Returns the name of the user's company. "+identifySpec+": reserved trait `company`, which may be a "+
			"string or an object with `name` (and id, industry, employee_count, plan); both are read. On a "+
			"group call the group is the company: "+groupSpec+" trait `name` comes first, then the user's "+
			"context.traits.company.",
		`company()`,
		func(ev *Event) any {
			if ev.Type == TypeGroup {
				if s, ok := text(asMap(ev.Raw["traits"])["name"]); ok {
					return s
				}
			}
			for _, t := range personTraits(ev) {
				switch c := t["company"].(type) {
				case map[string]any:
					if s, ok := text(c["name"]); ok {
						return s
					}
				default:
					if s, ok := text(c); ok {
						return s
					}
				}
			}
			return nil
		})
	identityHelper("city", "city() string",
		"Returns the user's city. "+identifySpec+": reserved trait `address` is an object with city, country, "+
			"postal_code, state and street; traits.address.city is read, else a top-level traits.city. "+
			"Identify traits, else context.traits.",
		`city()`,
		func(ev *Event) any { return addressText(ev, "city") })
	identityHelper("country", "country() string",
		"Returns the user's country as sent (tools differ on names versus ISO codes; map it if yours needs "+
			"a code). "+identifySpec+": traits.address.country, else traits.country.",
		`country()`,
		func(ev *Event) any { return addressText(ev, "country") })
	identityHelper("postalCode", "postalCode() string",
		"Returns the user's postal code as text (a JSON number keeps its digits). "+identifySpec+": "+
			"traits.address.postal_code (also accepted as postalCode or zip), else the same keys at the top "+
			"of the traits.",
		`postalCode()`,
		func(ev *Event) any { return addressText(ev, "postal_code", "postalCode", "zip") })
	identityHelper("state", "state() string",
		"Returns the user's state or region. "+identifySpec+": traits.address.state, else traits.state.",
		`state()`,
		func(ev *Event) any { return addressText(ev, "state") })
	identityHelper("street", "street() string",
		"Returns the user's street address. "+identifySpec+": traits.address.street, else traits.street.",
		`street()`,
		func(ev *Event) any { return addressText(ev, "street") })
	identityHelper("traitsOf", "traitsOf() map",
		"Returns the user's traits as one object. On identify, context.traits overlaid with traits (traits "+
			"win); on every other call, group included, context.traits, where the SDKs carry the user's "+
			"traits ("+commonSpec+"). nil when there are none. Use it to forward all traits as a tool's "+
			"custom attributes.",
		`traitsOf().plan`,
		func(ev *Event) any {
			ts := personTraits(ev)
			switch {
			case ts[0] == nil && ts[1] == nil:
				return nil
			case len(ts[1]) == 0:
				if ts[0] == nil {
					return nil
				}
				return ts[0]
			case len(ts[0]) == 0:
				return ts[1]
			}
			out := make(map[string]any, len(ts[0])+len(ts[1]))
			for k, v := range ts[1] {
				out[k] = v
			}
			for k, v := range ts[0] {
				out[k] = v
			}
			return out
		})
}

// Context helpers: where the event was sent from, per the Common Fields
// spec's context object.

// contextText reads a string at a context path, trimmed; nil when absent.
func contextText(ev *Event, path ...string) any {
	return textOf(at(ev.Context, path...))
}

// campaignKeys are the UTM parameters of context.campaign.
var campaignKeys = map[string]string{
	"source": "source", "medium": "medium", "name": "name", "campaign": "name",
	"term": "term", "content": "content",
}

func init() {
	ctxHelper := func(name, doc string, path ...string) {
		identityHelper(name, name+"() string", doc, name+"()",
			func(ev *Event) any { return contextText(ev, path...) })
	}
	ctxHelper("ip", "Returns the user's IP address. "+commonSpec+": context.ip (the library may fill it from the "+
		"connection when the client did not).", "ip")
	identityHelper("userAgent", "userAgent() string",
		"Returns the user agent of the device. "+commonSpec+": context.userAgent (the older snake_case "+
			"context.user_agent is read too).",
		`userAgent()`,
		func(ev *Event) any {
			if s := contextText(ev, "userAgent"); s != nil {
				return s
			}
			return contextText(ev, "user_agent")
		})
	ctxHelper("locale", "Returns the user's locale string, for example \"en-US\". "+commonSpec+": context.locale.", "locale")
	ctxHelper("userTimezone", "Returns the user's time zone as an IANA name, for example \"Europe/Paris\". "+
		commonSpec+": context.timezone. Not named timezone because that is expr's builtin that loads a "+
		"time zone (timezone(\"Europe/Paris\")).", "timezone")
	ctxHelper("deviceId", "Returns the device id. "+commonSpec+": context.device.id (on iOS the IDFV or a "+
		"generated id, on Android the Android id).", "device", "id")
	ctxHelper("deviceType", "Returns the device type as the SDK reports it, for example \"ios\" or "+
		"\"android\". "+commonSpec+": context.device.type.", "device", "type")
	ctxHelper("deviceToken", "Returns the device's push token (APNs or FCM registration token). "+commonSpec+
		": context.device.token, which the mobile SDKs set once push is registered.", "device", "token")
	ctxHelper("advertisingId", "Returns the device's advertising id (IDFA or Google Advertising ID). "+
		commonSpec+": context.device.advertisingId, present only when ad tracking is allowed.", "device", "advertisingId")
	ctxHelper("os", "Returns the operating system's name, for example \"iOS\". "+commonSpec+": context.os.name.",
		"os", "name")
	ctxHelper("osVersion", "Returns the operating system's version. "+commonSpec+": context.os.version.", "os", "version")
	ctxHelper("appVersion", "Returns the app's version string. "+commonSpec+": context.app.version.", "app", "version")
	identityHelper("pageUrl", "pageUrl() string",
		"Returns the URL of the page the event happened on. Segment Page spec: a page call's properties.url "+
			"is the page's URL, so it comes first on page calls; on every call context.page.url is then read "+
			"("+commonSpec+"). A track call's properties.url is not used: the e-commerce spec gives it to the "+
			"product, not the page.",
		`pageUrl()`,
		func(ev *Event) any {
			if ev.Type == TypePage {
				if s, ok := text(ev.Properties["url"]); ok {
					return s
				}
			}
			return contextText(ev, "page", "url")
		})
	identityHelper("referrer", "referrer() string",
		"Returns the referring URL. Segment Page spec: properties.referrer on page calls; then "+
			"context.page.referrer; then context.referrer.url (the Common Fields spec's referrer object, "+
			"set by mobile deep links).",
		`referrer()`,
		func(ev *Event) any {
			if ev.Type == TypePage {
				if s, ok := text(ev.Properties["referrer"]); ok {
					return s
				}
			}
			if s := contextText(ev, "page", "referrer"); s != nil {
				return s
			}
			return contextText(ev, "referrer", "url")
		})
	register(Helper{
		Name:        "utm",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("utm", params)
			if err != nil {
				return nil, err
			}
			key, err := stringArg("utm", params, 1)
			if err != nil {
				return nil, err
			}
			k := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(key)), "utm_")
			field, ok := campaignKeys[k]
			if !ok {
				return nil, fmt.Errorf("utm: unknown campaign field %q (want source, medium, name, term or content)", key)
			}
			if s := contextText(ev, "campaign", field); s != nil {
				return s, nil
			}
			// No context.campaign: read the page URL's query string, which
			// is where analytics.js itself takes context.campaign from.
			page, _ := contextText(ev, "page", "url").(string)
			if i := strings.IndexByte(page, '?'); i >= 0 {
				q, _ := url.ParseQuery(page[i+1:])
				param := "utm_" + field
				if field == "name" {
					param = "utm_campaign"
				}
				if s, ok := text(q.Get(param)); ok {
					return s, nil
				}
			}
			return nil, nil
		},
		Types:     []any{new(func(Env, string) any)},
		Signature: `utm(field string) string`,
		Doc: "Returns one UTM parameter of the campaign that brought the user. field is source, medium, name " +
			"(or campaign), term or content, with or without the utm_ prefix; any other field is an error. " +
			commonSpec + ": context.campaign.{name,source,medium,term,content}, which analytics.js fills from " +
			"the page URL's utm_ query parameters; when context.campaign is absent the utm_ parameters of " +
			"context.page.url are read.",
		Example: `utm("source")`,
	})
}
