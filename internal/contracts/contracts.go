// Package contracts checks rendered payloads against the API contracts the
// tools publish (OpenAPI documents copied verbatim into testdata/, see its
// README) and against the JSON Schemas this project writes, from the public
// docs, for tools that publish none. Tests use it; the router does not.
package contracts

import (
	"bytes"

	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchyard/switchyard/destinations"
)

// Dir is the folder holding the published contracts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

var (
	mu      sync.Mutex
	docs    = map[string]*openapi3.T{}
	schemas = map[string]*jsonschema.Schema{}
)

// Validate checks body against a preset's contract. toolDir is the tool's
// catalog folder, where its own schemas live.
func Validate(toolDir string, c *destinations.Contract, body []byte) error {
	if c == nil {
		return fmt.Errorf("no contract declared")
	}
	switch {
	case c.OpenAPI != "":
		return validateOpenAPI(c, body)
	case c.Schema != "":
		return validateSchema(filepath.Join(toolDir, c.Schema), body)
	}
	return fmt.Errorf("contract names neither openapi nor schema")
}

func loadDoc(name string) (*openapi3.T, error) {
	mu.Lock()
	defer mu.Unlock()
	if d, ok := docs[name]; ok {
		return d, nil
	}
	path := filepath.Join(Dir(), name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc *openapi3.T
	loader := openapi3.NewLoader()
	if bytes.Contains(data[:min(len(data), 200)], []byte(`"swagger"`)) {
		// Iterable publishes Swagger 2.0.
		var v2 openapi2.T
		if err := json.Unmarshal(data, &v2); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(v2.Consumes) == 0 {
			// Without a declared media type the converter leaves body
			// parameters out of requestBody; Iterable's API takes JSON.
			v2.Consumes = []string{"application/json"}
		}
		if doc, err = openapi2conv.ToV3(&v2); err != nil {
			return nil, fmt.Errorf("%s: converting Swagger 2.0: %w", name, err)
		}
		if err := loader.ResolveRefsIn(doc, nil); err != nil {
			return nil, fmt.Errorf("%s: resolving refs: %w", name, err)
		}
	} else {
		// OneSignal's YAML has an unquoted "=" enum value that YAML 1.1
		// parsers read as a key; kin-openapi's loader reads it as text.
		if doc, err = loader.LoadFromData(data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	docs[name] = doc
	return doc, nil
}

func validateOpenAPI(c *destinations.Contract, body []byte) error {
	doc, err := loadDoc(c.OpenAPI)
	if err != nil {
		return err
	}
	item := doc.Paths.Value(c.Path)
	if item == nil {
		return fmt.Errorf("%s has no path %q", c.OpenAPI, c.Path)
	}
	op := item.GetOperation(strings.ToUpper(orDefault(c.Method, "POST")))
	if op == nil {
		return fmt.Errorf("%s has no %s %s", c.OpenAPI, orDefault(c.Method, "POST"), c.Path)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	// A Swagger 2.0 body parameter can survive conversion as a parameter
	// "in: body"; its schema is the body's.
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == "body" && p.Value.Schema != nil && p.Value.Schema.Value != nil {
			if err := p.Value.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
				return fmt.Errorf("%s %s: %w", c.OpenAPI, c.Path, err)
			}
			return nil
		}
	}
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return fmt.Errorf("%s %s %s has no request body", c.OpenAPI, c.Method, c.Path)
	}
	if form, isText := v.(string); isText {
		if mt := op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			return validateForm(c, mt.Schema.Value, form)
		}
	}
	var mt *openapi3.MediaType
	for _, ct := range []string{"application/json", "application/vnd.api+json"} {
		if mt = op.RequestBody.Value.Content.Get(ct); mt != nil {
			break
		}
	}
	if mt == nil {
		for _, m := range op.RequestBody.Value.Content {
			mt = m
			break
		}
	}
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return fmt.Errorf("%s %s has no JSON body schema", c.OpenAPI, c.Path)
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s %s: %w", c.OpenAPI, c.Path, err)
	}
	return nil
}

func validateSchema(path string, body []byte) error {
	mu.Lock()
	s, ok := schemas[path]
	if !ok {
		comp := jsonschema.NewCompiler()
		var err error
		if s, err = comp.Compile(path); err != nil {
			mu.Unlock()
			return fmt.Errorf("schema %s: %w", path, err)
		}
		schemas[path] = s
	}
	mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("schema %s: %w", filepath.Base(path), err)
	}
	return nil
}

// validateForm checks an application/x-www-form-urlencoded body (the
// preview shows it as text) against the operation's form schema: each field
// is read as the type its property declares (form values are all text on
// the wire), and a field the schema does not declare is an error, since a
// tool such as Twilio ignores unknown parameters silently.
func validateForm(c *destinations.Contract, schema *openapi3.Schema, body string) error {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return fmt.Errorf("body is not form-encoded: %w", err)
	}
	obj := map[string]any{}
	var unknown []string
	for k, vs := range vals {
		prop := schema.Properties[k]
		if prop == nil || prop.Value == nil {
			unknown = append(unknown, k)
			continue
		}
		obj[k] = formTyped(prop.Value, vs[len(vs)-1])
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s %s: form fields not in the contract: %s", c.OpenAPI, c.Path, strings.Join(unknown, ", "))
	}
	if err := schema.VisitJSON(obj, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s %s: %w", c.OpenAPI, c.Path, err)
	}
	return nil
}

// formTyped reads a form value as its property's declared type; a value
// that does not parse stays text, so the schema reports it.
func formTyped(s *openapi3.Schema, v string) any {
	switch {
	case s.Type.Is("integer"):
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return float64(n)
		}
	case s.Type.Is("number"):
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case s.Type.Is("boolean"):
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
