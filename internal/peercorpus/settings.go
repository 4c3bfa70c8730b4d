package peercorpus

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/destinations"
)

// settingAliases names, per peer config key, the switchyard settings it may
// feed, in order of preference; the first one the tool's definition has is
// used. Keys not listed feed the setting named by their snake_case form
// (apiKey → api_key, measurementId → measurement_id).
var settingAliases = map[string][]string{
	"apiKey":                 {"api_key", "rest_api_key", "private_api_key"},
	"restApiKey":             {"api_key", "rest_api_key"},
	"privateApiKey":          {"api_key", "private_api_key"},
	"apiSecret":              {"api_secret"},
	"appKey":                 {"app_key", "app_id"},
	"appId":                  {"app_id"},
	"siteID":                 {"site_id"},
	"siteId":                 {"site_id"},
	"dataCenter":             {"data_center", "region", "instance"},
	"datacenterId":           {"datacenter", "data_center", "dc"},
	"dataResidency":          {"region"},
	"residencyServer":        {"region"},
	"region":                 {"region", "data_center"},
	"audienceId":             {"list_id", "audience_id"},
	"listId":                 {"list_id"},
	"token":                  {"token"},
	"serviceAccountUserName": {"service_account_username"},
	"serviceAccountSecret":   {"service_account_secret"},
	"projectId":              {"project_id"},
	"measurementId":          {"measurement_id"},
	"trackRevenuePerProduct": {"revenue_per_product"},
	"fromEmail":              {"from_email"},
}

// peerValues maps peer values of enum settings that do not match by name.
var peerValues = map[string]string{
	"standard": "us", // Amplitude residencyServer
}

var camelBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func snake(s string) string {
	return strings.ToLower(camelBoundary.ReplaceAllString(s, "${1}_${2}"))
}

// Translation is a destination config derived from a peer config.
type Translation struct {
	// Settings are the switchyard settings, secrets included (the test
	// writes those as ${ENV} references).
	Settings map[string]any
	// Placeholders names the required settings the peer config did not
	// provide, filled with a recognisable placeholder.
	Placeholders []string
}

// Settings translates the peer's destination config for def. Values are
// kept only when they fit the setting's format (an enum value matching one
// of def's values, ignoring case, '-' and '_'); every required setting still
// missing gets a placeholder of its format, so that each input can be
// rendered.
func Settings(def *destinations.Definition, peer map[string]any) Translation {
	tr := Translation{Settings: map[string]any{}}
	for _, key := range slices.Sorted(maps.Keys(peer)) {
		candidates := append(append([]string{}, settingAliases[key]...), snake(key))
		for _, name := range candidates {
			s, ok := def.Setting(name)
			if !ok {
				continue
			}
			if _, done := tr.Settings[name]; done {
				break
			}
			if v, ok := fit(s, peer[key]); ok {
				tr.Settings[name] = v
			}
			break
		}
	}
	// Customer.io's peer config says EU with a flag.
	if eu, _ := peer["datacenterEU"].(bool); eu {
		for _, name := range []string{"region", "data_center"} {
			if s, ok := def.Setting(name); ok {
				if v, ok := fit(s, "eu"); ok {
					tr.Settings[name] = v
				}
				break
			}
		}
	}
	for _, s := range def.Settings {
		if _, set := tr.Settings[s.Name]; set || !s.Required || s.Default != nil {
			continue
		}
		tr.Settings[s.Name] = placeholder(s)
		tr.Placeholders = append(tr.Placeholders, s.Name)
	}
	return tr
}

// fit converts a peer value to the setting's format, or reports that it
// does not fit (an empty string, an unknown region, a list).
func fit(s *destinations.Setting, v any) (any, bool) {
	switch s.Format {
	case "bool":
		b, ok := v.(bool)
		return b, ok
	case "number":
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		if i, err := n.Int64(); err == nil {
			return int(i), true
		}
		f, err := n.Float64()
		return f, err == nil
	case "enum":
		str, ok := v.(string)
		if !ok {
			return nil, false
		}
		norm := func(x string) string {
			return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(x)))
		}
		want := norm(str)
		if alt, ok := peerValues[want]; ok {
			want = alt
		}
		for _, e := range s.Enum {
			if norm(e) == want {
				return e, true
			}
		}
		return nil, false
	}
	str, ok := v.(string)
	if !ok || strings.TrimSpace(str) == "" {
		return nil, false
	}
	if s.Format == "url" && !strings.HasPrefix(str, "http") {
		return nil, false
	}
	if s.Format == "email" && !strings.Contains(str, "@") {
		return nil, false
	}
	return str, true
}

func placeholder(s destinations.Setting) any {
	switch s.Format {
	case "url":
		return "https://placeholder.example"
	case "email":
		return "placeholder@example.com"
	case "number":
		return 1
	case "bool":
		return false
	case "enum":
		if len(s.Enum) > 0 {
			return s.Enum[0]
		}
	}
	if s.Example != "" {
		return s.Example
	}
	return fmt.Sprintf("placeholder-%s", strings.ReplaceAll(s.Name, "_", "-"))
}
