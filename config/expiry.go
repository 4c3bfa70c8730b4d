package config

import (
	"fmt"
	"strings"
	"time"
)

// ExpiryMargin is the least time an event spends in EVENTS after its retry
// window closes and one more backoff step has passed, beyond which
// streams.max_age may drop it.
//
// Why a margin at all: EVENTS drops a message max_age after its stream
// time whether or not a destination has finished with it, and the retry
// window is counted from the same stream time. An event whose window has
// closed must still be dead-lettered: by the lane at its next look, which
// can be up to one redelivery delay (delivery.backoff.max) away, or by the
// sweep of past-window messages, which runs periodically, and the dead
// letter's own publish can wait on a JetStream leader election or a router
// restart. So the rule is
//
//	retry_window + backoff.max + ExpiryMargin <= streams.max_age
//
// with 10 minutes covering the sweep interval, a restart and the publish.
// The defaults (4h + 10m + 10m against 7d) pass with days to spare.
const ExpiryMargin = 10 * time.Minute

// The defaults the cross-check assumes for keys left unset: their
// documented defaults, read from the tags.
var (
	defaultRetryWindow = tagDuration(Delivery{}, "RetryWindow")
	defaultBackoffMax  = tagDuration(Backoff{}, "Max")
	defaultMaxAge      = tagDuration(Streams{}, "MaxAge")
)

// RetryWindowFits reports whether events retried for window, with
// redelivery delays up to backoffMax, are dead-lettered before a stream
// keeping messages for maxAge drops them, and if not, the max_age needed.
func RetryWindowFits(window, backoffMax, maxAge time.Duration) (ok bool, need time.Duration) {
	need = window + backoffMax + ExpiryMargin
	return need <= maxAge, need
}

// checkExpiryGlobal checks defaults.delivery against streams.max_age.
//
// It applies when the defaults are written, when there is no destination
// yet, or when a destination inherits both of them; a config whose every
// destination sets its own window and backoff (each checked by
// checkExpiryDestination) needs no default that fits.
func (c *Config) checkExpiryGlobal() Diagnostics {
	g := &c.Global
	used := g.Defaults.Delivery.RetryWindow != 0 || g.Defaults.Delivery.Backoff.Max != 0 || len(c.Destinations) == 0
	for _, d := range c.Destinations {
		used = used || (d.Delivery.RetryWindow == 0 && d.Delivery.Backoff.Max == 0)
	}
	if !used {
		return nil
	}
	maxAge := g.Streams.MaxAge.Or(defaultMaxAge)
	window := g.Defaults.Delivery.RetryWindow.Or(defaultRetryWindow)
	backoff := g.Defaults.Delivery.Backoff.Max.Or(defaultBackoffMax)
	ok, need := RetryWindowFits(window, backoff, maxAge)
	if ok {
		return nil
	}
	at := "streams.max_age"
	switch {
	case g.Defaults.Delivery.RetryWindow != 0:
		at = "defaults.delivery.retry_window"
	case g.Defaults.Delivery.Backoff.Max != 0:
		at = "defaults.delivery.backoff.max"
	}
	where := c.maxAgeWhere()
	if at == "streams.max_age" {
		where = "" // the error is there already
	}
	return Diagnostics{{Pos: c.GlobalPos(at), Message: expiryMessage("defaults.delivery", window, backoff, maxAge, need, where)}}
}

// checkExpiryDestination checks a destination that sets its own
// retry_window or backoff.max; one that inherits both is covered by
// checkExpiryGlobal.
func (c *Config) checkExpiryDestination(d *Destination) Diagnostics {
	if d.Delivery.RetryWindow == 0 && d.Delivery.Backoff.Max == 0 {
		return nil
	}
	g := &c.Global
	maxAge := g.Streams.MaxAge.Or(defaultMaxAge)
	window := d.Delivery.RetryWindow.Or(g.Defaults.Delivery.RetryWindow.Or(defaultRetryWindow))
	backoff := d.Delivery.Backoff.Max.Or(g.Defaults.Delivery.Backoff.Max.Or(defaultBackoffMax))
	ok, need := RetryWindowFits(window, backoff, maxAge)
	if ok {
		return nil
	}
	at := "delivery.retry_window"
	if d.Delivery.RetryWindow == 0 {
		at = "delivery.backoff.max"
	}
	return Diagnostics{{Pos: d.Pos(at), Message: expiryMessage("destination "+d.Name+": delivery", window, backoff, maxAge, need, c.maxAgeWhere())}}
}

// maxAgeWhere says where streams.max_age comes from, for the message.
func (c *Config) maxAgeWhere() string {
	if c.Global.Streams.MaxAge == 0 {
		return "the default"
	}
	return c.GlobalPos("streams.max_age").String()
}

// expiryMessage says what does not fit; maxAgeWhere, when not empty, says
// where streams.max_age is written.
func expiryMessage(what string, window, backoff, maxAge, need time.Duration, maxAgeWhere string) string {
	if maxAgeWhere != "" {
		maxAgeWhere = " (" + maxAgeWhere + ")"
	}
	return fmt.Sprintf("%s.retry_window %s + backoff.max %s + %s margin is %s, over streams.max_age %s%s: "+
		"EVENTS would drop events before they are dead-lettered. Raise streams.max_age to at least %s, or shorten retry_window (docs/delivery.md)",
		what, short(window), short(backoff), short(ExpiryMargin), short(need), short(maxAge), maxAgeWhere, short(need))
}

// short writes a duration as an operator would: 4h, 4h20m, 10m, 7d.
func short(d time.Duration) string {
	s := Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
