package router

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newAdmin builds the admin mux. /debug/ endpoints require the bearer token
// when one is configured; so does the console (Options.Console), which
// serves every other path.
func newAdmin(r *Router, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if ok, why := r.NotReady(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + why + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	regulationRoutes(mux, r, token)
	mux.HandleFunc("GET /debug/deliveries", func(w http.ResponseWriter, req *http.Request) {
		if !authorized(req, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <admin.token>", http.StatusUnauthorized)
			return
		}
		name := req.URL.Query().Get("destination")
		l, ok := r.lane(name)
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "unknown destination; pass ?destination=NAME", "destinations": r.Destinations()})
			return
		}
		failures, successes := l.samples.snapshot()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"destination": name,
			"breaker":     l.sender.State(),
			"rate":        l.sender.Rate(),
			"failures":    nonNil(failures),
			"successes":   nonNil(successes),
		})
	})
	if r.opts.Console != nil {
		mux.Handle("/", r.opts.Console(r, token))
	}
	return mux
}

func nonNil(s []Sample) []Sample {
	if s == nil {
		return []Sample{}
	}
	return s
}

func authorized(req *http.Request, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
