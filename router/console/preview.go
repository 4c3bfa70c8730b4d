package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// PreviewView is a destination's preview page: an event pasted (or taken
// from a dead letter) and what the destination, with its config as loaded
// now, makes of it. Nothing is sent.
type PreviewView struct {
	Destination string             `json:"destination"`
	Event       string             `json:"event"`
	Source      string             `json:"source"`
	Sources     []string           `json:"sources"`
	Result      *plan.PreviewEvent `json:"result"`
	Error       string             `json:"error,omitempty"`
	// Seq is the dead letter the event came from (0: pasted); with the
	// token, the page offers to replay it.
	Seq      uint64 `json:"seq,omitempty"`
	CanWrite bool   `json:"canWrite"`
}

// previewForm is GET /destinations/{name}/preview[?seq=N]: the form, with
// a dead letter's event when seq names one.
func (c *Console) previewForm(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	p, ok := c.r.Plan(name)
	if !ok {
		c.noDestination(w, req, name)
		return
	}
	v := PreviewView{Destination: name, Sources: append([]string{}, p.Sources...), CanWrite: c.canWrite()}
	if s := req.URL.Query().Get("seq"); s != "" {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || seq == 0 {
			c.fail(w, req, http.StatusBadRequest, "seq="+strconv.Quote(s)+": want a DLQ stream sequence")
			return
		}
		v.Seq = seq
		v.Event, v.Source, v.Error = c.deadLetterEvent(req.Context(), name, seq)
		if v.Error == "" {
			c.run(p, &v)
		}
	}
	c.page(w, req, http.StatusOK, "preview", chrome{Title: name + " preview", Nav: "preview", Dest: name}, v)
}

// deadLetterEvent reads one entry's event and the source it came from.
func (c *Console) deadLetterEvent(ctx context.Context, name string, seq uint64) (event, source, problem string) {
	js, ok := c.r.Routing()
	if !ok {
		return "", "", "not connected to NATS yet"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := router.ListDeadLetters(ctx, js, name, router.DLQSelect{Seqs: []uint64{seq}}, func(_ uint64, dl *router.DeadLetter) bool {
		event = indentJSON(dl.Data)
		if parts := strings.SplitN(dl.Subject, ".", 3); len(parts) >= 2 {
			source = parts[1]
		}
		return false
	})
	if err != nil {
		return "", "", err.Error()
	}
	return event, source, ""
}

// preview is POST /destinations/{name}/preview: a form (event, source), or
// for scripts the event itself as the JSON body (?source=NAME).
func (c *Console) preview(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	p, ok := c.r.Plan(name)
	if !ok {
		c.noDestination(w, req, name)
		return
	}
	v := PreviewView{Destination: name, Sources: append([]string{}, p.Sources...), CanWrite: c.canWrite()}
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			c.fail(w, req, http.StatusRequestEntityTooLarge, "reading the event: "+err.Error())
			return
		}
		v.Event, v.Source = string(b), req.URL.Query().Get("source")
	} else {
		if err := req.ParseForm(); err != nil {
			c.fail(w, req, http.StatusRequestEntityTooLarge, "reading the form: "+err.Error())
			return
		}
		v.Event, v.Source = req.PostFormValue("event"), req.PostFormValue("source")
	}
	if strings.TrimSpace(v.Event) == "" {
		v.Error = "paste an event: one Segment-spec JSON object"
	} else {
		c.run(p, &v)
	}
	c.page(w, req, http.StatusOK, "preview", chrome{Title: name + " preview", Nav: "preview", Dest: name}, v)
}

// run previews the event with the running plan, redacted, sending nothing.
func (c *Console) run(p *plan.Plan, v *PreviewView) {
	res := p.Preview([]byte(v.Event), plan.PreviewOptions{Source: v.Source})
	v.Result = &res
}

// indentJSON pretty-prints JSON for a text area; anything else as it is.
func indentJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(b)
	}
	return string(out)
}
