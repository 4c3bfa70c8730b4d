package plan

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
)

// settings validates settings against the tool's definition, fills defaults
// and the endpoint, and collects the secrets to redact.
func (pb *planBuilder) settings() {
	d, p := pb.d, pb.p
	p.Settings = map[string]any{}
	for k, v := range d.Settings {
		p.Settings[k] = v
	}
	p.Redactor = NewRedactor()
	fromEnv := map[string]bool{}
	for _, e := range d.Expansions {
		fromEnv[e.Path] = true
	}
	// Every value that came from the environment is redacted, except a
	// catalog tool's settings that its definition declares non-secret (a
	// region, a project id): those show as they are, in preview URLs too.
	// Webhook and http settings are free-form, so any of them may hold a
	// credential.
	for _, e := range d.Expansions {
		if pb.plainSetting(e.Path) {
			continue
		}
		p.Redactor.Add(e.Value)
	}
	switch d.Type {
	case TypeWebhook:
		u, _ := d.Settings["url"].(string)
		if u == "" {
			pb.errAt("settings", "webhook needs settings.url")
		} else if err := destinations.CheckURL(u); err != nil {
			pb.errAt("settings.url", "%v", err)
		}
		for k := range d.Settings {
			if k != "url" && k != "headers" && k != "secret" {
				pb.errAt("settings."+k, "unknown webhook setting %q (known: url, headers, secret)", k)
			}
		}
		spec := &webhookSpec{url: u, headers: map[string]string{}}
		if h, ok := d.Settings["headers"].(map[string]any); ok {
			for k, v := range h {
				s, ok := v.(string)
				if !ok {
					pb.errAt("settings.headers."+k, "header value must be a string")
				}
				spec.headers[k] = s
				if sensitiveHeader(k) && !fromEnv["settings.headers."+k] {
					pb.warnAt("settings.headers."+k, "header %s carries a credential: write it as an ${ENV} reference (only values from the environment are redacted from output)", k)
				}
			}
		} else if d.Settings["headers"] != nil {
			pb.errAt("settings.headers", "headers must be a mapping of names to values")
		}
		if s, ok := d.Settings["secret"]; ok {
			spec.secret, _ = s.(string)
			if !fromEnv["settings.secret"] {
				pb.errAt("settings.secret", "secret must come from the environment: write ${WEBHOOK_SECRET}, not the value")
			}
			p.Redactor.Add(spec.secret)
		}
		p.webhook = spec
		return
	case TypeHTTP:
		for _, k := range slices.Sorted(maps.Keys(d.Settings)) {
			if _, isStr := d.Settings[k].(string); isStr && sensitiveHeader(k) && !fromEnv["settings."+k] {
				pb.warnAt("settings."+k, "settings.%s looks like a credential: write it as an ${ENV} reference (only values from the environment are redacted from output)", k)
			}
		}
		return
	}
	def := p.Def
	known := settingNames(def)
	for _, k := range slices.Sorted(maps.Keys(d.Settings)) {
		if _, ok := def.Setting(k); !ok && !(k == "endpoint" && def.Endpoints != nil) {
			msg := fmt.Sprintf("unknown setting %q for %s (known: %s)", k, def.Name, strings.Join(known, ", "))
			if near := config.Suggest(k, known); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			pb.errAt("settings."+k, "%s", msg)
		}
	}
	for _, s := range def.Settings {
		v, set := d.Settings[s.Name]
		path := "settings." + s.Name
		if !set || v == nil || v == "" {
			if s.Default != nil {
				p.Settings[s.Name] = s.Default
			} else if s.Required {
				pb.errAt("settings", "missing required setting %s: %s", s.Name, s.Description)
			}
			continue
		}
		if s.Secret {
			if !fromEnv[path] {
				pb.errAt(path, "%s is a secret: write it as an ${ENV} reference, not the value", s.Name)
			}
			if str, ok := v.(string); ok {
				p.Redactor.Add(str)
			}
		}
		pb.checkValue(path, &s, v)
	}
	if ep := def.Endpoints; ep != nil {
		if _, set := d.Settings["endpoint"]; set {
			if err := destinations.CheckURL(fmt.Sprint(d.Settings["endpoint"])); err != nil {
				pb.errAt("settings.endpoint", "%v", err)
			}
		} else {
			key := fmt.Sprint(p.Settings[ep.Setting])
			base, ok := ep.Values[key]
			if !ok {
				values := slices.Sorted(maps.Keys(ep.Values))
				msg := fmt.Sprintf("unknown %s %q for %s (known: %s)", ep.Setting, key, def.Name, strings.Join(values, ", "))
				if near := config.Suggest(key, values); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				pb.errAt("settings."+ep.Setting, "%s", msg)
			}
			p.Settings["endpoint"] = base
		}
	}
}

// checkValue checks a setting's value against its format (the catalog
// owns what a format means), with a did-you-mean for an enum's near miss.
func (pb *planBuilder) checkValue(path string, s *destinations.Setting, v any) {
	err := s.Check(v)
	if err == nil {
		return
	}
	msg := err.Error()
	var ee *destinations.EnumError
	if errors.As(err, &ee) {
		if near := config.Suggest(ee.Value, ee.Enum); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
	}
	pb.errAt(path, "%s", msg)
}

// plainSetting reports a catalog setting its definition declares
// non-secret: its value is shown as is even when it came from ${ENV}. The
// endpoint override is plain unless it carries credentials (user:pass@).
func (pb *planBuilder) plainSetting(path string) bool {
	name, ok := strings.CutPrefix(path, "settings.")
	if !ok || pb.p.Def == nil {
		return false
	}
	if s, ok := pb.p.Def.Setting(name); ok {
		return !s.Redacted()
	}
	if name == "endpoint" && pb.p.Def.Endpoints != nil {
		u, err := url.Parse(fmt.Sprint(pb.d.Settings["endpoint"]))
		return err == nil && u.User == nil
	}
	return false
}

func settingNames(def *destinations.Definition) []string {
	n := make([]string, 0, len(def.Settings))
	for _, s := range def.Settings {
		n = append(n, s.Name)
	}
	return n
}
