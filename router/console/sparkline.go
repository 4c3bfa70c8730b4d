package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Sparklines are small inline SVGs drawn on the server: no script, no
// chart library, no inline style (the CSP allows none); colours come from
// the stylesheet through the classes.

const (
	sparkW   = 120
	sparkH   = 28
	sparkPad = 2
)

// sparkline draws values (NaN: no data at that step) scaled from 0 to max
// (0: the largest value), as a polyline per run of known values.
func sparkline(values []float64, max float64, class, label string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark %s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		html.EscapeString(class), sparkW, sparkH, sparkW, sparkH, html.EscapeString(label))
	fmt.Fprintf(&b, `<line class="base" x1="0" y1="%d" x2="%d" y2="%d"/>`, sparkH-sparkPad, sparkW, sparkH-sparkPad)
	if max <= 0 {
		for _, v := range values {
			if !math.IsNaN(v) && v > max {
				max = v
			}
		}
	}
	n := len(values)
	if n > 0 && max > 0 {
		x := func(i int) float64 {
			if n == 1 {
				return sparkW
			}
			return float64(i) * sparkW / float64(n-1)
		}
		y := func(v float64) float64 {
			v = math.Min(math.Max(v, 0), max)
			return sparkPad + (sparkH-2*sparkPad)*(1-v/max)
		}
		type point struct{ x, y float64 }
		var run []point
		flush := func() {
			switch len(run) {
			case 0:
			case 1:
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.5"/>`, run[0].x, run[0].y)
			default:
				b.WriteString(`<polyline points="`)
				for i, p := range run {
					if i > 0 {
						b.WriteByte(' ')
					}
					fmt.Fprintf(&b, "%.1f,%.1f", p.x, p.y)
				}
				b.WriteString(`"/>`)
			}
			run = run[:0]
		}
		for i, v := range values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			run = append(run, point{x(i), y(v)})
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built from numbers and escaped text only
}
