package destinations

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A lookup's answer is classified as the same answer to a send would be,
// keeps the tool's Retry-After on a 429 or 503 (seconds or an HTTP date),
// is bounded, and a transport error never carries the URL (it may hold an
// email).
func TestLookupsAreBoundedAndClassifiedLikeSends(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"/slow-down": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		"/maintenance": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		"/forbidden": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7") // not a reason to retry a 403
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`  {"message":"missing scope"}  `))
		},
		"/huge": func(w http.ResponseWriter) { _, _ = w.Write([]byte(strings.Repeat("x", MaxLookupBytes+1))) },
		"/ok":   func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"id":"1"}`)) },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != UserAgent {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		answers[r.URL.Path](w)
	}))
	defer srv.Close()
	get := func(path string) (*LookupAnswer, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path+"?email=jane@example.com", nil)
		return DoLookup(context.Background(), NewLookupClient(false), req, "reading the record")
	}
	for _, c := range []struct {
		path  string
		class Class
		after time.Duration // at least
		text  string
	}{
		{"/slow-down", Retryable, 7 * time.Second, "reading the record: HTTP 429"},
		{"/maintenance", Retryable, 80 * time.Second, "HTTP 503"},
		{"/forbidden", Permanent, 0, `reading the record: HTTP 403: {"message":"missing scope"}`},
	} {
		ans, err := get(c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		f := ans.Failure("reading the record")
		if f.Class != c.class || f.RetryAfter < c.after || (c.after == 0 && f.RetryAfter != 0) || !strings.Contains(f.Error(), c.text) {
			t.Errorf("%s: class %v, Retry-After %v, %q", c.path, f.Class, f.RetryAfter, f)
		}
	}
	if ans, err := get("/ok"); err != nil || ans.Status != 200 || string(ans.Body) != `{"id":"1"}` {
		t.Errorf("ok: %v %+v", err, ans)
	} else if f := ans.Failure("reading the record"); f.Class != Permanent {
		t.Errorf("a 2xx that could not be read is %v, want permanent", f.Class)
	}
	var ae *AuthError
	if _, err := get("/huge"); !errors.As(err, &ae) || ae.Class != Permanent || !strings.Contains(err.Error(), "over 1048576 bytes") {
		t.Errorf("huge: %v", err)
	}

	// DenyPrivate: the loopback tool is refused, for good.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ok?email=jane@example.com", nil)
	_, err := DoLookup(context.Background(), NewLookupClient(true), req, "reading the record")
	if !errors.As(err, &ae) || ae.Class != Permanent || !strings.Contains(err.Error(), "deny_private_destinations") {
		t.Errorf("deny private: %v", err)
	}
	srv.Close()
	_, err = get("/ok")
	if !errors.As(err, &ae) || ae.Class != Retryable || strings.Contains(err.Error(), "jane@example.com") || strings.Contains(err.Error(), "/ok") {
		t.Errorf("tool down: %v (the URL must not be in it)", err)
	}
}
