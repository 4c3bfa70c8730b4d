// Package console serves the operator's console on the admin listener: every
// destination's state and figures, its delivery pipeline by outcome and
// reason, samples of what failed, its config, a preview form, and its dead
// letters, to replay or purge. Pages are server-rendered HTML (Go's
// html/template, embedded) that work with JavaScript off, and every page is
// JSON too (Accept: application/json, or under /api/).
//
// With admin.token set nothing is served without the token; without one
// the console is read-only. Every response carries a strict
// Content-Security-Policy, and every POST is checked against cross-site
// forgery. See docs/console.md.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/munnerz/goautoneg"

	"github.com/switchyard/switchyard/router"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is set on every console response: nothing but the
// console's own script and stylesheet, no inline script or style, no
// framing, forms posting only to the console.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// maxPostBytes bounds a POST's body: a form with up to a thousand DLQ
// sequences, or an event to preview.
const maxPostBytes = 1 << 20

// sampleEvery is the sampler's period: the finest ring's step.
var sampleEvery = resolutions[0]

// Console is the console's handler.
//
// Lock order: busyMu and reportsMu are leaves, and so is the history's
// lock; none is held across a call into the router or JetStream.
type Console struct {
	r       *router.Router
	token   string
	csrfKey []byte
	hist    *history
	pages   map[string]*template.Template
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	log     *slog.Logger

	busyMu sync.Mutex
	busy   map[string]bool // destinations with a replay or purge running

	reportsMu sync.Mutex
	reports   []storedReport // the last few action reports, for the page after the redirect
}

// Handler returns the console for r: the admin listener mounts it at /
// (router.Options.Console). token is admin.token; empty makes the console
// read-only. It samples the router's counters until the router stops.
func Handler(r *router.Router, token string) http.Handler {
	c := New(r, token)
	go c.sample(r.Done())
	return c
}

// New builds the console without starting its sampler (tests drive
// Sample themselves).
func New(r *router.Router, token string) *Console {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("console: no randomness for the CSRF key: " + err.Error())
	}
	c := &Console{
		r: r, token: token, csrfKey: key, hist: newHistory(time.Now()), pages: parsePages(),
		cop: http.NewCrossOriginProtection(), log: slog.Default().With("component", "console"),
		busy: map[string]bool{},
	}
	c.routes()
	return c
}

// sample records the counters every sampleEvery until done is closed.
func (c *Console) sample(done <-chan struct{}) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	c.Sample(time.Now())
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			c.Sample(now)
		}
	}
}

// Sample records one sample of every destination's counters at now.
func (c *Console) Sample(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dlq, _, _ := c.r.DLQDepths(ctx) // unknown depths sample as 0
	c.hist.record(now, c.r.Status(), dlq)
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.overview)
	m.HandleFunc("GET /destinations/{name}", c.destination)
	m.HandleFunc("GET /destinations/{name}/dlq", c.dlq)
	m.HandleFunc("POST /destinations/{name}/dlq/replay", c.replay)
	m.HandleFunc("POST /destinations/{name}/dlq/purge", c.purge)
	m.HandleFunc("GET /destinations/{name}/preview", c.previewForm)
	m.HandleFunc("POST /destinations/{name}/preview", c.preview)
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		c.fail(w, req, http.StatusNotFound, "no such page: "+req.URL.Path)
	})
	c.mux = m
}

type ctxKey int

const (
	jsonKey   ctxKey = iota // answer JSON (under /api/)
	bearerKey               // the request carried the token as a bearer token
)

// ServeHTTP sets the security headers, checks the token, strips /api/
// (which answers JSON), checks POSTs for forgery, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if path, ok := strings.CutPrefix(req.URL.Path, "/api"); ok && (path == "" || path[0] == '/') {
		if path == "" {
			path = "/"
		}
		r2 := req.Clone(context.WithValue(req.Context(), jsonKey, true))
		r2.URL.Path, r2.URL.RawPath = path, ""
		req = r2
	}
	authed, bearer := c.authorized(req)
	if !authed {
		h.Set("WWW-Authenticate", `Basic realm="switchyard console", charset="UTF-8"`)
		h.Add("WWW-Authenticate", `Bearer realm="switchyard console"`)
		// Nothing of the console, not even its stylesheet, without the token.
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("401 unauthorized: the switchyard console needs admin.token.\n" +
			"Browsers: sign in with any user name and the token as the password.\n" +
			"Scripts: send Authorization: Bearer <admin.token>.\n"))
		return
	}
	if req.Method == http.MethodPost {
		req.Body = http.MaxBytesReader(w, req.Body, maxPostBytes)
	}
	if req.Method == http.MethodPost && !bearer {
		// A browser sends basic credentials by itself, with any site's
		// forms: a POST must come from the console's own page (Fetch
		// metadata or Origin, net/http's CrossOriginProtection), and one that
		// changes state carries the page's CSRF token too (act). A bearer
		// token is never sent by a browser on its own, so a script's POST
		// needs neither.
		if err := c.cop.Check(req); err != nil {
			c.fail(w, req, http.StatusForbidden, "cross-origin request refused: "+err.Error())
			return
		}
	}
	if bearer {
		req = req.WithContext(context.WithValue(req.Context(), bearerKey, true))
	}
	c.mux.ServeHTTP(w, req)
}

// authorized reports whether the request may be served, and whether it
// carried the token as a bearer token. Without a configured token every
// read is allowed.
func (c *Console) authorized(req *http.Request) (ok, bearer bool) {
	if c.token == "" {
		return true, false
	}
	auth := req.Header.Get("Authorization")
	if got, found := strings.CutPrefix(auth, "Bearer "); found {
		return c.equalToken(got), true
	}
	if _, pass, found := req.BasicAuth(); found {
		return c.equalToken(pass), false
	}
	return false, false
}

func (c *Console) equalToken(got string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.token)) == 1
}

// canWrite says whether replay and purge are allowed: only with a
// configured token (which authorized has checked).
func (c *Console) canWrite() bool { return c.token != "" }

// csrfToken is the token every form carries: an HMAC, under a key drawn at
// start, of the admin token, so that it is good for this process and this
// token only.
func (c *Console) csrfToken() string {
	m := hmac.New(sha256.New, c.csrfKey)
	m.Write([]byte("switchyard-console-csrf\x00" + c.token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) validCSRF(got string) bool {
	want := c.csrfToken()
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// wantsJSON: under /api/, or when the client prefers JSON to HTML.
func wantsJSON(req *http.Request) bool {
	if v, _ := req.Context().Value(jsonKey).(bool); v {
		return true
	}
	accept := req.Header.Get("Accept")
	if accept == "" {
		return false
	}
	return goautoneg.Negotiate(accept, []string{"text/html", "application/json"}) == "application/json"
}

// chrome is what every HTML page's frame shows.
type chrome struct {
	Title    string
	Nav      string // overview, destination, dlq, preview
	Dest     string
	Window   string
	Windows  []Window
	Ready    bool
	CanWrite bool
	CSRF     string
	Now      time.Time
	Refresh  int // seconds; 0: none
}

// page renders data as the named template, or as JSON.
func (c *Console) page(w http.ResponseWriter, req *http.Request, status int, name string, ch chrome, data any) {
	if wantsJSON(req) {
		writeJSON(w, status, data)
		return
	}
	ch.Windows, ch.Ready, ch.CanWrite, ch.CSRF, ch.Now = Windows, c.r.Ready(), c.canWrite(), c.csrfToken(), time.Now()
	if ch.Window == "" {
		ch.Window = Windows[0].Name
	}
	t := c.pages[name]
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", struct {
		C chrome
		D any
	}{ch, data}); err != nil {
		c.log.Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// ErrorView is the body of an error, as JSON.
type ErrorView struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// fail answers an error, as a page or as JSON.
func (c *Console) fail(w http.ResponseWriter, req *http.Request, status int, msg string) {
	c.page(w, req, status, "error", chrome{Title: http.StatusText(status)}, ErrorView{Status: status, Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// randomID names a stored report.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
