package plan

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/mappings"
)

// Gates decide, before any action is considered, whether an event reaches
// a destination at all, and what of it: the regulations in force
// (suppression), the integrations object, consent, the filter expression,
// sampling, and the field filters (allow_fields, block_fields). Every drop
// is counted filtered with its own reason; a gate that cannot judge an
// event drops it (fail closed, as Segment's destination filters do).

// Regulations is what routing consults beyond the plan: the regulations in
// force. The router keeps them in JetStream and passes its in-memory view
// (router/regulations.Index); this package never touches NATS. A nil
// Regulations suppresses nothing (validate, preview without NATS).
type Regulations interface {
	// Suppressed reports whether events of this user, named by userId or
	// anonymousId, are suppressed at the destination, and by which
	// regulation.
	Suppressed(destination, userID, anonymousID string) (regulation string, ok bool)
}

// RouteOptions are routing's inputs beyond the event.
type RouteOptions struct {
	// Only, when not empty, limits what is considered to the actions and
	// keys (name#i) it names: a DLQ replay of what failed.
	Only map[string]bool
	// Regulations are the regulations in force; nil: none.
	Regulations Regulations
	// Trace records every gate's verdict in Routing.Gates (preview).
	Trace bool
}

// GateResult is what one gate made of an event, as preview shows it.
type GateResult struct {
	// Gate is suppression, consent, filter, sample,
	// allow_fields or block_fields.
	Gate string `json:"gate"`
	// Result is passed, dropped, or changed (a field filter removed
	// something).
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
}

// Gate results.
const (
	GatePassed  = "passed"
	GateDropped = "dropped"
	GateChanged = "changed"
)

// gates is a plan's compiled gates beyond the filter expression.
type gates struct {
	consent []string // categories, all required
	sample  float64
	sampled bool
	allow   [][]string // split paths; nil: no allow list
	block   [][]string
}

func (g *gates) compile(consent []string, sample *float64, allow, block []string) {
	g.consent = consent
	if sample != nil {
		g.sample, g.sampled = *sample, true
	}
	for _, p := range allow {
		g.allow = append(g.allow, strings.Split(p, "."))
	}
	for _, p := range block {
		g.block = append(g.block, strings.Split(p, "."))
	}
}

// consentVerdict applies the destination's consent categories to an event:
// ok false drops it, detail says why (which category is missing).
//
// Segment: context.consent.categoryPreferences maps each category to a
// boolean; the destination gets the event only when every one of its
// categories is true, so an empty object is consent to nothing
// (https://segment.com/docs/privacy/consent-management/consent-in-segment-connections/).
// RudderStack: context.consentManagement.deniedConsentIds lists the
// categories refused; resolutionStrategy "and" (the default, and what
// OneTrust, Ketch and iubenda use) drops the event when any of the
// destination's categories is denied, "or" only when all of them are
// (https://www.rudderstack.com/docs/data-governance/consent-management/custom-consent-manager/).
// An event carrying neither is not enforced.
func (g *gates) consentVerdict(ctx map[string]any) (ok bool, detail string) {
	if c, has := ctx["consent"]; has && c != nil {
		cm, isObj := c.(map[string]any)
		if !isObj {
			return false, "context.consent is not an object: consent cannot be read (fail closed)"
		}
		if prefs, has := cm["categoryPreferences"]; has && prefs != nil {
			pm, isObj := prefs.(map[string]any)
			if !isObj {
				return false, "context.consent.categoryPreferences is not an object: consent cannot be read (fail closed)"
			}
			var missing []string
			for _, cat := range g.consent {
				if v, _ := pm[cat].(bool); !v {
					missing = append(missing, cat+" ("+preference(pm, cat)+")")
				}
			}
			if len(missing) > 0 {
				return false, "no consent for " + strings.Join(missing, ", ") + " in context.consent.categoryPreferences"
			}
			return true, "context.consent.categoryPreferences consents to " + strings.Join(g.consent, ", ")
		}
	}
	if c, has := ctx["consentManagement"]; has && c != nil {
		cm, isObj := c.(map[string]any)
		if !isObj {
			return false, "context.consentManagement is not an object: consent cannot be read (fail closed)"
		}
		raw, has := cm["deniedConsentIds"]
		if !has || raw == nil {
			return true, "context.consentManagement has no deniedConsentIds: not enforced"
		}
		list, isList := raw.([]any)
		if !isList {
			return false, "context.consentManagement.deniedConsentIds is not a list: consent cannot be read (fail closed)"
		}
		denied := map[string]bool{}
		for _, v := range list {
			if s, isStr := v.(string); isStr {
				denied[s] = true
			}
		}
		var refused []string
		for _, cat := range g.consent {
			if denied[cat] {
				refused = append(refused, cat)
			}
		}
		strategy, _ := cm["resolutionStrategy"].(string)
		if strings.EqualFold(strategy, "or") {
			if len(refused) == len(g.consent) {
				return false, "context.consentManagement denies every category (" + strings.Join(refused, ", ") + ", resolutionStrategy or)"
			}
			return true, "context.consentManagement consents to at least one category (resolutionStrategy or)"
		}
		if len(refused) > 0 {
			return false, "context.consentManagement denies " + strings.Join(refused, ", ") + " (resolutionStrategy and)"
		}
		return true, "context.consentManagement denies none of " + strings.Join(g.consent, ", ")
	}
	return true, "the event carries no consent information: not enforced"
}

// preference says what an event's preferences hold for a category.
func preference(pm map[string]any, cat string) string {
	v, has := pm[cat]
	switch {
	case !has:
		return "missing"
	case v == false:
		return "false"
	}
	return "not true: " + fmt.Sprint(v)
}

// sampleKey is the id sampling is stable on: the userId, else the
// anonymousId (one of them is always set).
func sampleKey(ev *mappings.Event) string {
	if ev.UserID != "" {
		return ev.UserID
	}
	return ev.AnonymousID
}

// SampleFraction maps an id to [0, 1): FNV-1a, then MurmurHash3's 64-bit
// finalizer so that ids differing in their last character spread over the
// whole range. It depends on nothing but the id, so every router, and
// every restart, keeps the same users.
func SampleFraction(id string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

func (g *gates) sampleVerdict(ev *mappings.Event) (ok bool, detail string) {
	f := SampleFraction(sampleKey(ev))
	rate := strconv.FormatFloat(g.sample, 'f', -1, 64)
	if f < g.sample {
		return true, fmt.Sprintf("user in the sample (%.4f < %s)", f, rate)
	}
	return false, fmt.Sprintf("user outside the sample of %s (their fraction is %.4f)", rate, f)
}

// hasFieldFilters reports whether allow_fields or block_fields is set.
func (g *gates) hasFieldFilters() bool { return g.allow != nil || len(g.block) > 0 }

// pruneFields applies allow_fields, then block_fields, to an event. The
// event is not changed: every map along a removed path is copied, so the
// event other gates and the caller hold stays as it was. It returns ev
// itself when nothing was removed, and the paths removed.
//
// A traits path applies where the call keeps its traits: traits for
// identify and group, context.traits for the others (mappings.Event.Traits
// reads the same places).
func (g *gates) pruneFields(ev *mappings.Event) (*mappings.Event, []string) {
	raw := ev.Raw
	var removed []string
	changed := false
	if g.allow != nil {
		out := make(map[string]any, len(raw))
		for k, v := range raw {
			out[k] = v
		}
		for _, root := range []string{"properties", "traits", "context"} {
			v, has := raw[root]
			m, isObj := v.(map[string]any)
			if !has || !isObj {
				continue
			}
			paths := g.allowedUnder(root)
			kept, cut := selectPaths(m, paths, root)
			removed = append(removed, cut...)
			if len(cut) == 0 {
				continue
			}
			changed = true
			if len(kept) == 0 {
				delete(out, root)
			} else {
				out[root] = kept
			}
		}
		if changed {
			raw = out
		}
	}
	for _, p := range g.block {
		targets := [][]string{p}
		if p[0] == "traits" {
			targets = append(targets, append([]string{"context"}, p...))
		}
		for _, t := range targets {
			if next, ok := deletePath(raw, t); ok {
				raw, changed = next, true
				removed = append(removed, strings.Join(t, "."))
			}
		}
	}
	if !changed {
		return ev, nil
	}
	out := ev.WithRaw(raw)
	slices.Sort(removed)
	return out, slices.Compact(removed)
}

// allowedUnder lists the allow paths inside root, without root; a path
// naming root itself keeps all of it. context also keeps, under its traits,
// what the traits paths allow (a track call's traits live there).
func (g *gates) allowedUnder(root string) [][]string {
	var out [][]string
	for _, p := range g.allow {
		switch {
		case p[0] == root:
			out = append(out, p[1:])
		case root == "context" && p[0] == "traits":
			out = append(out, append([]string{"traits"}, p[1:]...))
		}
	}
	return out
}

// selectPaths returns a copy of m holding only what paths name (an empty
// path keeps all of m), and the paths of what it left out, under prefix.
func selectPaths(m map[string]any, paths [][]string, prefix string) (map[string]any, []string) {
	for _, p := range paths {
		if len(p) == 0 {
			return m, nil
		}
	}
	byKey := map[string][][]string{}
	for _, p := range paths {
		byKey[p[0]] = append(byKey[p[0]], p[1:])
	}
	out := map[string]any{}
	var cut []string
	for k, v := range m {
		sub, allowed := byKey[k]
		if !allowed {
			cut = append(cut, prefix+"."+k)
			continue
		}
		child, isObj := v.(map[string]any)
		if !isObj {
			// A path deeper than the value goes: the value is kept whole
			// only when a path names it; here one reaches below it, and a
			// scalar has nothing below.
			whole := false
			for _, s := range sub {
				whole = whole || len(s) == 0
			}
			if whole {
				out[k] = v
			} else {
				cut = append(cut, prefix+"."+k)
			}
			continue
		}
		kept, c := selectPaths(child, sub, prefix+"."+k)
		cut = append(cut, c...)
		if len(kept) > 0 {
			out[k] = kept
		}
	}
	return out, cut
}

// deletePath removes a path from m, copying every map on the way; ok is
// false, and m returned as is, when the path is not there.
func deletePath(m map[string]any, p []string) (map[string]any, bool) {
	v, has := m[p[0]]
	if !has {
		return m, false
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	if len(p) == 1 {
		delete(out, p[0])
		return out, true
	}
	child, isObj := v.(map[string]any)
	if !isObj {
		return m, false
	}
	next, ok := deletePath(child, p[1:])
	if !ok {
		return m, false
	}
	out[p[0]] = next
	return out, true
}
