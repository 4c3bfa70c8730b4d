package mappings

import "strings"

// Enabled applies the Segment integrations object: it reports whether the
// event may go to a destination known by any of names (its switchyard name,
// the tool's display name, and any aliases the operator configured).
//
// Segment spec ("Integrations" in the Common Fields spec): the object maps
// destination names to true or false; "All" (default true) applies to every
// destination not listed. A value that is an object (destination options)
// enables the destination. Names match exactly first, then ignoring case and
// the characters ' ', '-' and '_' ("Google Analytics 4" = "google_analytics_4"),
// because SDKs in the wild spell display names every way.
func (e *Event) Enabled(names ...string) bool {
	return IntegrationEnabled(e.Integrations, names...)
}

// IntegrationEnabled is Event.Enabled over a bare integrations object.
func IntegrationEnabled(integrations map[string]any, names ...string) bool {
	if len(integrations) == 0 {
		return true
	}
	all := true
	if v, ok := lookupAll(integrations); ok {
		all = truthy(v)
	}
	for _, n := range names {
		if v, ok := integrations[n]; ok {
			return truthy(v)
		}
	}
	for k, v := range integrations {
		fk := foldName(k)
		if fk == "all" {
			continue
		}
		for _, n := range names {
			if foldName(n) == fk {
				return truthy(v)
			}
		}
	}
	return all
}

func lookupAll(m map[string]any) (any, bool) {
	if v, ok := m["All"]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, "all") {
			return v, true
		}
	}
	return nil, false
}

// truthy: false (or "false") disables; true, an options object, or anything
// else enables. null is treated as not set, which Segment SDKs never send.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return !strings.EqualFold(x, "false")
	}
	return true
}

func foldName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == ' ' || r == '-' || r == '_' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
