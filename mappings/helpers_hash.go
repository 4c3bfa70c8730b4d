package mappings

import (
	"crypto/md5" //nolint:gosec // G501: md5() is a tool's id format (see md5Hex)
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Hashing helpers, for tools that match users on hashed identifiers (Meta
// Conversions API, Google enhanced conversions, TikTok, Snap) and for
// Mailchimp's subscriber hash.

// hashInput reads a hash argument: strings as they are, numbers and
// booleans as str() prints them. ok is false for nil and blank strings,
// because a hash of nothing matches no one and only pollutes a tool's data.
func hashInput(name string, params []any) (s string, ok bool, err error) {
	if len(params) == 0 {
		return "", false, fmt.Errorf("%s: want a value to hash", name)
	}
	switch x := params[0].(type) {
	case nil:
		return "", false, nil
	case string:
		return x, strings.TrimSpace(x) != "", nil
	case map[string]any, []any:
		return "", false, fmt.Errorf("%s: want a string, got %s", name, kindOf(x))
	}
	return Stringify(params[0]), true, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5Hex is the md5() helper: some tools' APIs name their fields by the MD5
// of an email (Mailchimp's subscriber hash), so it is an identifier's
// format here, not a protection.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // G401: a tool's id format, not security
	return hex.EncodeToString(sum[:])
}

// isSHA256Hex reports whether s already is a SHA-256 hex digest, so that a
// sender's pre-hashed identifier is not hashed twice (Meta and Google both
// accept pre-hashed values, and a double hash matches no one).
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// normalisePhone returns the digits of a phone number, with a leading '+'
// when the number had one or started with the international prefix 00.
func normalisePhone(s string, plus bool) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s) + 1)
	intl := strings.HasPrefix(s, "+")
	for _, r := range s {
		if '0' <= r && r <= '9' {
			b.WriteRune(r)
		}
	}
	digits := b.String()
	if !intl && strings.HasPrefix(digits, "00") {
		intl, digits = true, digits[2:]
	}
	if intl && plus && digits != "" {
		return "+" + digits
	}
	return digits
}

func init() {
	register(Helper{
		Name: "sha256",
		Fn: func(params ...any) (any, error) {
			s, ok, err := hashInput("sha256", params)
			if !ok || err != nil {
				return nil, err
			}
			return sha256Hex(s), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: "sha256(s string) string",
		Doc: "Returns the SHA-256 digest of s as lower-case hex, s hashed exactly as given (numbers as str() " +
			"prints them). nil, \"\" and all-space strings give nil: a hash of nothing matches no one. For " +
			"emails and phones use sha256Email and sha256Phone, which normalise first as the tools require.",
		Example: `sha256(userIdOrAnonymousId())`,
	})
	register(Helper{
		Name: "sha256Email",
		Fn: func(params ...any) (any, error) {
			s, ok, err := hashInput("sha256Email", params)
			if !ok || err != nil {
				return nil, err
			}
			s = strings.ToLower(strings.TrimSpace(s))
			if isSHA256Hex(s) {
				return s, nil
			}
			return sha256Hex(s), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: "sha256Email(email string) string",
		Doc: "Returns the SHA-256 hex digest of a normalised email. The email is trimmed and lower-cased, the " +
			"normalisation Meta's Conversions API (em: \"trim any leading and trailing spaces, convert all characters to lowercase\") " +
			"and Google enhanced conversions require. A value that already is a SHA-256 hex digest is passed " +
			"through (lower-cased) rather than hashed twice. Google's extra gmail.com rule (dropping dots before " +
			"the @) is not applied. nil or blank gives nil.",
		Example: `sha256Email(email())`,
	})
	register(Helper{
		Name: "sha256Phone",
		Fn: func(params ...any) (any, error) {
			format, err := stringArg("sha256Phone", params, 1)
			if err != nil {
				return nil, err
			}
			plus := true
			switch strings.ToLower(format) {
			case "", "e164":
			case "digits":
				plus = false
			default:
				return nil, fmt.Errorf("sha256Phone: unknown format %q (want \"e164\" or \"digits\")", format)
			}
			s, ok, err := hashInput("sha256Phone", params)
			if !ok || err != nil {
				return nil, err
			}
			if t := strings.TrimSpace(s); isSHA256Hex(t) {
				return strings.ToLower(t), nil
			}
			p := normalisePhone(s, plus)
			if p == "" || p == "+" {
				return nil, nil
			}
			return sha256Hex(p), nil
		},
		Types:     []any{new(func(any) any), new(func(any, string) any)},
		Signature: `sha256Phone(phone string[, format string]) string`,
		Doc: "Returns the SHA-256 hex digest of a normalised phone number. The number is normalised towards " +
			"E.164: every character but digits removed, a leading '+' kept, and a leading international prefix 00 read as '+' " +
			"(\"+1 (555) 010-9999\" → \"+15550109999\"), as Google enhanced conversions require (E.164, with " +
			"the '+'). Format \"digits\" drops the '+', as Meta's Conversions API requires (ph: \"digits only, " +
			"including country code\"). A number without a country code cannot be completed and is hashed as " +
			"its digits. A value already a SHA-256 hex digest is passed through. nil, blank or digit-less gives nil.",
		Example: `sha256Phone(phone(), "digits")`,
	})
	register(Helper{
		Name: "md5",
		Fn: func(params ...any) (any, error) {
			s, ok, err := hashInput("md5", params)
			if !ok || err != nil {
				return nil, err
			}
			return md5Hex(s), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: "md5(s string) string",
		Doc: "Returns the MD5 digest of s as lower-case hex, s hashed exactly as given. For ids only, never for " +
			"security. nil or blank gives nil.",
		Example: `md5(messageId)`,
	})
	register(Helper{
		Name: "mailchimpHash",
		Fn: func(params ...any) (any, error) {
			s, ok, err := hashInput("mailchimpHash", params)
			if !ok || err != nil {
				return nil, err
			}
			return md5Hex(strings.ToLower(strings.TrimSpace(s))), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: "mailchimpHash(email string) string",
		Doc: "Returns Mailchimp's subscriber hash of an email. It is the MD5 hex digest of the lower-cased " +
			"email (trimmed), which Mailchimp's Marketing API uses as the member id in /lists/{list_id}/members/{subscriber_hash} " +
			"(https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters). nil or " +
			"blank gives nil.",
		Example: `mailchimpHash(email())`,
	})
}
