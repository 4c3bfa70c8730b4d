package destinations

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// SettingFormat is what a catalog setting's `format:` means, owned here
// once: the plan checks values with Check, the JSON Schema of destination
// files is generated from JSONType and JSONFormat, and the tool's README
// and `switchyard catalog` print Name.
type SettingFormat struct {
	Name string
	// JSONType is the JSON Schema type of a literal value: string, number
	// or boolean.
	JSONType string
	// JSONFormat is the JSON Schema format ("uri", "email"), if any.
	JSONFormat string
	// EnvString says an ${ENV} reference (a string) may stand for the value.
	// Numbers and booleans must be written as YAML literals: an expanded
	// ${ENV} is a string and would fail Check.
	EnvString bool
	check     func(name string, v any) error
}

var settingFormats = map[string]*SettingFormat{
	"string": {Name: "string", JSONType: "string", EnvString: true, check: func(name string, v any) error {
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a string", name)
		}
		return nil
	}},
	"url": {Name: "url", JSONType: "string", JSONFormat: "uri", EnvString: true, check: func(name string, v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s must be a URL", name)
		}
		return CheckURL(s)
	}},
	"email": {Name: "email", JSONType: "string", JSONFormat: "email", EnvString: true, check: func(name string, v any) error {
		if s, ok := v.(string); !ok || !strings.Contains(s, "@") {
			return fmt.Errorf("%s must be an email address", name)
		}
		return nil
	}},
	"number": {Name: "number", JSONType: "number", check: func(name string, v any) error {
		switch v.(type) {
		case int, int64, uint64, float64:
			return nil
		}
		return fmt.Errorf("%s must be a number", name)
	}},
	"bool": {Name: "bool", JSONType: "boolean", check: func(name string, v any) error {
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", name)
		}
		return nil
	}},
	"enum": {Name: "enum", JSONType: "string", EnvString: true},
}

// SettingFormats lists the format names a definition may use, sorted.
func SettingFormats() []string {
	out := make([]string, 0, len(settingFormats))
	for n := range settingFormats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// FormatOf returns the setting's format; an empty format is string.
func (s *Setting) FormatOf() *SettingFormat {
	name := s.Format
	if name == "" {
		name = "string"
	}
	return settingFormats[name]
}

// Check reports whether v is a valid value of the setting: its format's
// rule, and for enum one of Enum (an *EnumError otherwise).
func (s *Setting) Check(v any) error {
	f := s.FormatOf()
	if f == nil {
		return fmt.Errorf("%s: unknown format %q (catalog defect)", s.Name, s.Format)
	}
	if f.Name == "enum" {
		got := fmt.Sprint(v)
		for _, e := range s.Enum {
			if got == e {
				return nil
			}
		}
		return &EnumError{Setting: s.Name, Value: got, Enum: s.Enum}
	}
	return f.check(s.Name, v)
}

// Redacted says whether a value of this setting is redacted on output:
// exactly the secret ones. A non-secret setting (a region, a project id)
// is shown as is wherever it appears, even when it came from ${ENV}.
func (s *Setting) Redacted() bool { return s.Secret }

// check reports the definition's own defects: a format that means nothing,
// an enum without values, a default that its format refuses.
func (s *Setting) check() error {
	f := s.FormatOf()
	if f == nil {
		return fmt.Errorf("setting %s: unknown format %q (known: %s)", s.Name, s.Format, strings.Join(SettingFormats(), ", "))
	}
	if f.Name == "enum" && len(s.Enum) == 0 {
		return fmt.Errorf("setting %s: format enum lists no values", s.Name)
	}
	if f.Name != "enum" && len(s.Enum) > 0 {
		return fmt.Errorf("setting %s: enum values need format: enum", s.Name)
	}
	if s.Default != nil {
		if err := s.Check(s.Default); err != nil {
			return fmt.Errorf("setting %s: default: %w", s.Name, err)
		}
	}
	return nil
}

// EnumError is a value that is none of an enum setting's values.
type EnumError struct {
	Setting string
	Value   string
	Enum    []string
}

func (e *EnumError) Error() string {
	return fmt.Sprintf("%s %q: want one of %s", e.Setting, e.Value, strings.Join(e.Enum, ", "))
}

// CheckURL reports whether s is an absolute http(s) URL.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
