package plan

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Redacted replaces secret material on output.
const Redacted = "[REDACTED]"

// Redactor removes secrets from anything that leaves the process: logs,
// previews, the DLQ, delivery samples and metrics labels.
type Redactor struct {
	secrets  []string
	replacer *strings.Replacer
}

// minSecretLen: shorter values are not replaced in free text, where they
// would mangle unrelated words; header values are redacted by name anyway.
const minSecretLen = 4

// NewRedactor redacts each of secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets, with the forms they take inside a JSON string and a
// URL (a secret with a quote, a slash or a space does not appear as is).
func (r *Redactor) Add(secrets ...string) {
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		r.secrets = append(r.secrets, s)
		for _, v := range []string{jsonString(s, false), jsonString(s, true), url.QueryEscape(s), url.PathEscape(s)} {
			if v != s && !contains(r.secrets, v) {
				r.secrets = append(r.secrets, v)
			}
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// String redacts a string.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.secrets) == 0 {
		return s
	}
	return r.replacer.Replace(s)
}

// jsonString is s as it appears inside a JSON string, with or without
// HTML escaping (the router's bodies have none, tools' answers may).
func jsonString(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// Excerpt redacts text that was cut short (a response excerpt): a secret
// cut at the end is redacted too, not left as its first characters.
func (r *Redactor) Excerpt(s string) string {
	s = r.String(s)
	if r == nil {
		return s
	}
	for _, sec := range r.secrets {
		for n := len(sec) - 1; n >= minSecretLen; n-- {
			if strings.HasSuffix(s, sec[:n]) {
				return s[:len(s)-n] + Redacted
			}
		}
	}
	return s
}

// Bytes redacts bytes.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.secrets) == 0 {
		return b
	}
	return []byte(r.replacer.Replace(string(b)))
}

// sensitiveHeader reports headers whose value is a credential whatever it
// contains.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	if n == "idempotency-key" {
		return false
	}
	if n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "webhook-signature" {
		return true
	}
	for _, w := range []string{"key", "token", "secret", "password", "auth", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Header returns a copy of h fit for output: credential headers are
// replaced whole, others redacted.
func (r *Redactor) Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		for _, v := range vs {
			if sensitiveHeader(k) {
				out[k] = append(out[k], Redacted)
			} else {
				out[k] = append(out[k], r.String(v))
			}
		}
	}
	return out
}
