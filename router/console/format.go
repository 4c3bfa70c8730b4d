package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/router"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"overview", "destination", "dlq", "preview", "error"}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

var funcs = template.FuncMap{
	"rate":      fmtRate,
	"percent":   fmtPercent,
	"ms":        fmtMS,
	"count":     fmtCount,
	"seconds":   fmtSeconds,
	"clock":     fmtClock,
	"ago":       fmtAgo,
	"pretty":    prettyText,
	"headers":   headerLines,
	"flat":      flatHeaders,
	"body":      bodyText,
	"stateCls":  stateClass,
	"path":      url.PathEscape,
	"deref":     deref,
	"sparkRate": func(s []*float64) template.HTML { return sparkline(values(s), 0, "rate", "events per second") },
	"sparkErr": func(s []*float64) template.HTML {
		// No failure in the window: drawn muted, not in the error colour.
		class := "err none"
		for _, v := range s {
			if v != nil && *v > 0 {
				class = "err"
			}
		}
		return sparkline(values(s), 1, class, "share of requests that failed")
	},
	"outcomeCls": func(o string) string { return "o-" + strings.ReplaceAll(o, "_", "-") },
	"describe":   describeSample,
	"intp": func(p *int) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(*p)
	},
	"nonzero": func(v float64) bool { return v != 0 },
	"ip": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"status": func(s int) string {
		if s == 0 {
			return "no HTTP status"
		}
		return fmt.Sprintf("%d %s", s, http.StatusText(s))
	},
	"limit": func(v float64) string {
		switch {
		case v == 0:
			return "unlimited"
		case v == math.Trunc(v):
			// A configured limit is most often whole: 5/s, not 5.00/s.
			return fmt.Sprintf("%.0f/s", v)
		}
		return fmtRate(v)
	},
}

func values(s []*float64) []float64 {
	out := make([]float64, len(s))
	for i, p := range s {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	return out
}

func fmtRate(v float64) string {
	switch {
	case v == 0:
		return "0/s"
	case v < 0.1:
		return fmt.Sprintf("%.3f/s", v)
	case v < 10:
		return fmt.Sprintf("%.2f/s", v)
	}
	return fmt.Sprintf("%.0f/s", v)
}

func fmtPercent(p *float64) string {
	if p == nil {
		return "—"
	}
	v := *p * 100
	if v > 99.9 && v < 100 {
		return fmt.Sprintf("%.2f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

func fmtMS(p *float64) string {
	if p == nil {
		return "—"
	}
	if *p >= 1000 {
		return fmt.Sprintf("%.2f s", *p/1000)
	}
	if *p < 10 {
		return fmt.Sprintf("%.1f ms", *p)
	}
	return fmt.Sprintf("%.0f ms", *p)
}

// fmtCount writes a count with thin spaces between thousands.
func fmtCount(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	if len(s) <= 4 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}

func fmtClock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtAgo(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtSeconds(time.Since(t).Seconds()) + " ago"
}

// prettyText indents text that is JSON; other text is left as it is.
func prettyText(s string) string { return indentJSON([]byte(s)) }

// headerLines are a request's headers, one "Name: value" per value,
// sorted by name.
func headerLines(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	sort.Strings(out)
	return out
}

func flatHeaders(h map[string]string) []string {
	var out []string
	for k, v := range h {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}

// bodyText is a preview body: decoded JSON re-encoded indented, or text.
func bodyText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func stateClass(state string) string {
	switch state {
	case router.StateRunning:
		return "s-running"
	case router.StateOpen:
		return "s-open"
	case router.StateHalfOpen:
		return "s-half"
	case router.StatePaused:
		return "s-paused"
	}
	return "s-disabled"
}
