package plan

import (
	"net/http"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// Receipts is how a destination's delivered messages are confirmed later:
// its tool's receipts handler, where to ask, and when
// (destinations/receipts.go, docs/delivery.md#receipts).
type Receipts struct {
	// Handler is the tool's registered handler, HandlerName its name.
	Handler     destinations.ReceiptHandler
	HandlerName string
	// URL and Header are the definition's receipts request rendered over
	// the destination's settings (Header may hold a credential: never
	// logged).
	URL    string
	Header http.Header
	// Delay: first check after sending; Recheck: between checks of a
	// pending ticket; Expiry: from sending, when a pending ticket is given
	// up.
	Delay, Recheck, Expiry time.Duration
}

// receipts resolves the definition's receipts, when it has any.
func (pb *planBuilder) receipts() {
	p := pb.p
	if p.Def == nil || p.Def.Receipts == nil {
		return
	}
	def := p.Def.Receipts
	h, ok := destinations.ReceiptsHandler(def.Handler)
	if !ok {
		// The catalog refuses such a definition; a plan never runs without.
		pb.errAt("type", "catalog defect: receipts handler %q is not registered", def.Handler)
		return
	}
	delay, recheck, expiry, err := def.Timing()
	if err != nil {
		pb.errAt("type", "catalog defect: %v", err)
		return
	}
	env := mappings.SettingsEnv(p.Settings)
	render := func(what, src string, mode mappings.TemplateMode) (string, bool) {
		t, err := pb.b.Compiler.Template(what, src, mode)
		if err != nil {
			pb.errAt("type", "catalog defect: receipts %s: %v", what, err)
			return "", false
		}
		s, err := t.Render(env)
		if err != nil {
			pb.errAt("settings", "receipts %s: %v", what, err)
			return "", false
		}
		return s, true
	}
	u, ok := render("url", def.URL, mappings.TemplateURL)
	if !ok {
		return
	}
	header := http.Header{}
	for k, src := range def.Headers {
		v, ok := render("headers."+k, src, mappings.TemplateText)
		if !ok {
			return
		}
		if v != "" {
			header.Set(k, v)
		}
	}
	p.Receipts = &Receipts{Handler: h, HandlerName: def.Handler, URL: u, Header: header, Delay: delay, Recheck: recheck, Expiry: expiry}
}
