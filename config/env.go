package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Expansion records one ${ENV} reference that was replaced, so the router
// can treat its value as secret material and redact it on output.
type Expansion struct {
	Path  string // key path, for example "settings.api_key"
	Var   string // variable name
	Value string
}

// envExpander replaces ${VAR} and ${VAR:-default}; $${ is a literal ${.
type envExpander struct {
	lookup     func(string) (string, bool)
	expansions []Expansion
}

var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?`)

func newEnvExpander(lookup func(string) (string, bool)) *envExpander {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &envExpander{lookup: lookup}
}

func (e *envExpander) expand(s, path string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var firstErr error
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		sub := envRef.FindStringSubmatch(m)
		name := sub[1]
		if name == "" {
			if firstErr == nil {
				firstErr = fmt.Errorf("malformed environment reference %q (write ${NAME} or ${NAME:-default}; $${ for a literal)", m)
			}
			return m
		}
		v, ok := e.lookup(name)
		if !ok || v == "" {
			if sub[2] != "" {
				v = sub[3]
			} else if !ok {
				if firstErr == nil {
					firstErr = fmt.Errorf("environment variable %s is not set", name)
				}
				return ""
			}
		}
		if v != "" {
			e.expansions = append(e.expansions, Expansion{Path: path, Var: name, Value: v})
		}
		return v
	})
	return out, firstErr
}
