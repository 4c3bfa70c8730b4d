package mappings

import "strings"

// Semantic events: the event names the Segment spec gives a meaning to, and
// the helpers that read the email and mobile specs' properties.

// specEventTable maps the folded form of each canonical name (see foldEvent)
// to the canonical name.
type specEventTable map[string]string

func newSpecEventTable(names ...string) specEventTable {
	t := make(specEventTable, len(names))
	for _, n := range names {
		t[foldEvent(n)] = n
	}
	return t
}

var (
	// Segment E-commerce Events v2 spec, https://segment.com/docs/connections/spec/ecommerce/v2/
	ecommerceEvents = newSpecEventTable(
		// browsing
		"Products Searched", "Product List Viewed", "Product List Filtered",
		// promotions
		"Promotion Viewed", "Promotion Clicked",
		// core ordering
		"Product Clicked", "Product Viewed", "Product Added", "Product Removed", "Cart Viewed",
		"Checkout Started", "Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered",
		"Order Completed", "Order Updated", "Order Refunded", "Order Cancelled",
		// coupons
		"Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed",
		// wishlisting
		"Product Added to Wishlist", "Product Removed from Wishlist", "Wishlist Product Added to Cart",
		// sharing and reviewing
		"Product Shared", "Cart Shared", "Product Reviewed",
	)
	// Segment Email spec, https://segment.com/docs/connections/spec/email/
	emailEvents = newSpecEventTable(
		"Email Bounced", "Email Delivered", "Email Link Clicked", "Email Marked as Spam", "Email Opened",
		"Unsubscribed",
	)
	// Segment Native Mobile spec, https://segment.com/docs/connections/spec/mobile/
	mobileEvents = newSpecEventTable(
		"Application Installed", "Application Opened", "Application Backgrounded", "Application Foregrounded",
		"Application Updated", "Application Uninstalled", "Application Crashed",
		"Install Attributed", "Push Notification Received", "Push Notification Tapped",
		"Push Notification Bounced", "Deep Link Clicked", "Deep Link Opened",
	)
	// Segment Video spec, https://segment.com/docs/connections/spec/video/
	videoEvents = newSpecEventTable(
		"Video Playback Started", "Video Playback Paused", "Video Playback Interrupted",
		"Video Playback Buffer Started", "Video Playback Buffer Completed", "Video Playback Seek Started",
		"Video Playback Seek Completed", "Video Playback Resumed", "Video Playback Completed",
		"Video Playback Exited", "Video Content Started", "Video Content Playing", "Video Content Completed",
		"Video Ad Started", "Video Ad Playing", "Video Ad Completed", "Video Quality Updated",
	)
	// Segment B2B SaaS spec, https://segment.com/docs/connections/spec/b2b-saas/
	b2bEvents = newSpecEventTable(
		"Account Created", "Account Deleted", "Signed Up", "Signed In", "Signed Out", "Invite Sent",
		"Account Added User", "Account Removed User", "Trial Started", "Trial Ended",
	)
	// allSpecEvents is every table above in one.
	allSpecEvents = mergeSpecTables(ecommerceEvents, emailEvents, mobileEvents, videoEvents, b2bEvents)
)

func mergeSpecTables(ts ...specEventTable) specEventTable {
	out := specEventTable{}
	for _, t := range ts {
		for k, v := range t {
			out[k] = v
		}
	}
	return out
}

// foldEvent is how event names are compared: case ignored, surrounding
// space trimmed, '_' read as ' ' and runs of spaces collapsed.
func foldEvent(s string) string {
	if f, ok := foldASCII(s); ok {
		return f
	}
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '_' || r == '\t'
	}), " ")
}

// foldASCII is foldEvent for a name of ASCII bytes, in one pass: names
// are nearly always ASCII, and the general fold allocates three times.
// ok is false when s has a byte beyond ASCII (ToLower's Unicode rules
// apply then).
func foldASCII(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	gap := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return "", false
		case c == ' ' || c == '_' || c == '\t':
			gap = len(b) > 0
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if gap {
			b = append(b, ' ')
			gap = false
		}
		b = append(b, c)
	}
	return string(b), true
}

// canonicalSpecName returns the spec's spelling of name, or "".
func canonicalSpecName(name string, t specEventTable) string {
	if name == "" {
		return ""
	}
	return t[foldEvent(name)]
}

// specName returns the spec's spelling, in t, of the optional name
// argument, else of the event's own name (folded once per event: a tool's
// triggers and fields ask for it again and again).
func specName(helper string, params []any, t specEventTable) (string, error) {
	ev, err := eventOf(helper, params)
	if err != nil {
		return "", err
	}
	if len(params) > 1 {
		name, err := stringArg(helper, params, 1)
		if err != nil {
			return "", err
		}
		return canonicalSpecName(name, t), nil
	}
	return t[ev.foldedName()], nil
}

// specNameHelper is the Fn of ecommerceEvent and specEvent.
func specNameHelper(helper string, t specEventTable) func(params ...any) (any, error) {
	return func(params ...any) (any, error) {
		name, err := specName(helper, params, t)
		if err != nil {
			return nil, err
		}
		return nonEmpty(name), nil
	}
}

const (
	emailSpec  = "Segment Email spec (https://segment.com/docs/connections/spec/email/)"
	mobileSpec = "Segment Native Mobile spec (https://segment.com/docs/connections/spec/mobile/)"
)

func init() {
	register(Helper{
		Name:        "specEvent",
		EventScoped: true,
		Fn:          specNameHelper("specEvent", allSpecEvents),
		Types:       []any{new(func(Env) any), new(func(Env, string) any)},
		Signature:   "specEvent([name string]) string",
		Doc: "Returns the spec's spelling of the event's name when it is a semantic event of the Segment " +
			"spec, else nil. It reads the track event's name, or name when given, and looks it up among the " +
			"events of the E-commerce v2, Email, Native Mobile (Application " +
			"Installed/Opened/Updated/Backgrounded, Push Notification Received/Tapped/Bounced, Deep Link " +
			"Opened, ...), Video and B2B SaaS specs (https://segment.com/docs/connections/spec/semantic/). " +
			"Names match ignoring case, surrounding spaces and '_' for ' '.",
		Example: `specEvent("push_notification_tapped")`,
	})
	register(Helper{
		Name:        "isSpecEvent",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			name, err := specName("isSpecEvent", params, allSpecEvents)
			if err != nil {
				return nil, err
			}
			return name != "", nil
		},
		Types:     []any{new(func(Env) bool), new(func(Env, string) bool)},
		Signature: "isSpecEvent([name string]) bool",
		Doc: "Reports whether the track event (or name, when given) is a semantic event of the Segment spec, " +
			"as specEvent() recognises them. Never nil: false for page, screen, identify, group and alias calls.",
		Example: `isSpecEvent("order completed")`,
	})

	prop := func(name, doc string, keys ...string) {
		identityHelper(name, name+"() string", doc, name+"()", func(ev *Event) any {
			v, _ := firstKey(ev.Properties, keys...)
			return textOf(v)
		})
	}
	prop("emailId", "Returns the id of the email the event is about. "+emailSpec+": properties.email_id "+
		"(emailId accepted) of Email Delivered, Opened, Link Clicked, Bounced, Marked as Spam and Unsubscribed.",
		"email_id", "emailId")
	prop("emailSubject", "Returns the email's subject line. "+emailSpec+": properties.email_subject "+
		"(emailSubject accepted).", "email_subject", "emailSubject")
	prop("linkUrl", "Returns the URL of the link clicked in an email. "+emailSpec+": properties.link_url "+
		"(linkUrl accepted) of Email Link Clicked.", "link_url", "linkUrl")
	identityHelper("campaignId", "campaignId() string",
		"Returns the id of the messaging campaign (email or push) the event is about. "+emailSpec+": "+
			"properties.campaign_id (campaignId accepted); else properties.campaign.id, the campaign object of "+
			"the push notification events of the "+mobileSpec+". Not the UTM campaign of context.campaign: see utm().",
		`campaignId()`,
		func(ev *Event) any {
			if v, _ := firstKey(ev.Properties, "campaign_id", "campaignId"); v != nil {
				return textOf(v)
			}
			return textOf(at(ev.Properties, "campaign", "id"))
		})
	identityHelper("campaignName", "campaignName() string",
		"Returns the name of the messaging campaign (email or push) the event is about. "+emailSpec+": "+
			"properties.campaign_name (campaignName accepted); else properties.campaign.name, as in Push "+
			"Notification Received, Tapped and Bounced of the "+mobileSpec+". Not the UTM campaign of "+
			"context.campaign: see utm(\"name\").",
		`campaignName()`,
		func(ev *Event) any {
			if v, _ := firstKey(ev.Properties, "campaign_name", "campaignName"); v != nil {
				return textOf(v)
			}
			return textOf(at(ev.Properties, "campaign", "name"))
		})
	identityHelper("deepLinkUrl", "deepLinkUrl() string",
		"Returns the URL of the deep link that opened the app. "+mobileSpec+": properties.url of Deep Link "+
			"Opened and Deep Link Clicked. nil on any other event, whose properties.url means something else "+
			"(a product's page in the e-commerce spec).",
		`deepLinkUrl()`,
		func(ev *Event) any {
			switch mobileEvents[ev.foldedName()] {
			case "Deep Link Opened", "Deep Link Clicked":
				return textOf(ev.Properties["url"])
			}
			return nil
		})
}
