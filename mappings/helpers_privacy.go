package mappings

import (
	"fmt"
	"regexp"
	"strings"
)

// personalKeys are property names (lower-cased, letters and digits only)
// that hold personal data: Google's "Best practices to avoid sending
// Personally Identifiable Information" names email addresses, phone
// numbers, names and postal addresses
// (https://support.google.com/analytics/answer/6366371). A bare "name" is
// not in the list: in track properties it names a product, a page or a
// plan far more often than a person.
var personalKeys = map[string]bool{
	"email": true, "emailaddress": true, "mail": true, "useremail": true,
	"phone": true, "phonenumber": true, "mobile": true, "mobilephone": true, "telephone": true, "tel": true,
	"firstname": true, "lastname": true, "fullname": true, "middlename": true, "surname": true, "username": true,
	"address": true, "streetaddress": true, "street": true, "addressline1": true, "addressline2": true,
	"postalcode": true, "postcode": true, "zip": true, "zipcode": true,
	"birthday": true, "dateofbirth": true, "dob": true, "ip": true, "ipaddress": true,
}

// emailLike matches a text that is an email address, whatever key holds it.
var emailLike = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

func personalKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(k) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func init() {
	register(Helper{
		Name: "withoutPersonalData",
		Fn: func(params ...any) (any, error) {
			if len(params) == 0 {
				return nil, fmt.Errorf("withoutPersonalData: want (object, allowed keys...)")
			}
			m, err := mapArg("withoutPersonalData", params[0])
			if err != nil || m == nil {
				return nil, err
			}
			allowed := map[string]bool{}
			for i, p := range params[1:] {
				switch x := p.(type) {
				case string:
					allowed[personalKey(x)] = true
				case []any:
					for _, e := range x {
						if s, ok := e.(string); ok {
							allowed[personalKey(s)] = true
						}
					}
				case []string:
					for _, s := range x {
						allowed[personalKey(s)] = true
					}
				default:
					return nil, fmt.Errorf("withoutPersonalData: allowed key %d must be a string or a list of strings, not %s", i+1, kindOf(p))
				}
			}
			out := make(map[string]any, len(m))
			for k, v := range m {
				pk := personalKey(k)
				if allowed[pk] {
					out[k] = v
					continue
				}
				if personalKeys[pk] {
					continue
				}
				if s, ok := v.(string); ok && emailLike.MatchString(strings.TrimSpace(s)) {
					continue
				}
				out[k] = v
			}
			return out, nil
		},
		Types:     []any{new(func(any, ...any) any)},
		Signature: `withoutPersonalData(m map, allowed ...string) map`,
		Doc: "Returns a new object with the keys of m that hold no personal data: it leaves out keys naming an email, " +
			"phone number, first, last or full name, username, postal address, postcode, birthday or IP address " +
			"(compared without case, '_' or '-': `first_name`, `firstName`), and any text value that is an email " +
			"address, whatever its key. Keys listed in allowed (names or lists of names) are kept: an operator opts " +
			"them in. Tools such as GA4 forbid personal data " +
			"(https://support.google.com/analytics/answer/6366371). nil gives nil.",
		Example: `withoutPersonalData({"plan": "pro", "email": "ada@example.com", "first_name": "Ada", "seats": 3})`,
	})
	register(Helper{
		Name: "display",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("display: want (value), got %d arguments", len(params))
			}
			return displayText(params[0]), nil
		},
		Types:     []any{new(func(any) string)},
		Signature: `display(v any) string`,
		Doc: "Formats a value for a person to read, never failing: text as it is (trimmed), numbers in their shortest " +
			"form, times in ISO-8601, booleans as true/false, objects and lists as JSON, nil as \"\". For messages (Slack, email " +
			"bodies) where a value that is not what the spec says (a revenue written \"$45.00\") must still be " +
			"shown rather than fail the whole message.",
		Example: `display(properties.revenue)`,
	})
}

func displayText(v any) string {
	return strings.TrimSpace(Stringify(v))
}
