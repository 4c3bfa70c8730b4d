package mappings

import (
	"encoding/base64"
	"fmt"
)

// Encoding helpers, for credentials a tool wants encoded in a header.

func init() {
	register(Helper{
		Name: "base64",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("base64: want one value")
			}
			if params[0] == nil {
				return nil, nil
			}
			return base64.StdEncoding.EncodeToString([]byte(Stringify(params[0]))), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: "base64(s string) string",
		Doc:       "Returns s in standard base64 (RFC 4648 §4, with padding). nil gives nil.",
		Example:   `base64("user:secret")`,
	})
	register(Helper{
		Name: "basicAuth",
		Fn: func(params ...any) (any, error) {
			if len(params) != 2 {
				return nil, fmt.Errorf("basicAuth: want a user and a password")
			}
			user, pass := Stringify(params[0]), Stringify(params[1])
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
		},
		Types:     []any{new(func(any, any) any)},
		Signature: "basicAuth(user, password string) string",
		Doc: "Returns an HTTP Basic Authorization header value, \"Basic \" + base64(user:password) (RFC 7617). " +
			"For tools whose API key is the user (Mailchimp: anything, key) or the pair (Customer.io: site id, key). " +
			"nil counts as the empty string.",
		Example: `basicAuth("site-id", "api-key")`,
	})
}
