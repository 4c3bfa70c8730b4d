// Package golden reads the requests a catalog tool's golden case expects
// (testdata/<case>/expected.json in the tool's folder), for the tests of a
// tool's Go quirks: an authorizer is tested on exactly what its presets
// render.
package golden

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// Request returns the request that action renders in the golden case name
// (under testdata/), its URL's host part from (the tool's API origin)
// replaced with to (a test server's URL).
func Request(t *testing.T, name, action, from, to string) *destinations.Request {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Requests []struct {
			Action, Method, URL string
			Headers             map[string]string
			Body                json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("testdata/%s/expected.json: %v", name, err)
	}
	for _, r := range p.Requests {
		if r.Action == action {
			h := http.Header{}
			for k, v := range r.Headers {
				h.Set(k, v)
			}
			return &destinations.Request{Method: r.Method, URL: strings.Replace(r.URL, from, to, 1),
				Header: h, Body: r.Body, Items: 1, ValidJSON: true, Action: r.Action}
		}
	}
	t.Fatalf("golden case %s renders no %s request", name, action)
	return nil
}
