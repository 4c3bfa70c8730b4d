package all_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/destinations"
	_ "github.com/switchyard/switchyard/destinations/catalog/all"
)

// TestCatalogLoadsWithEveryQuirkRegistered: every item_errors and auth
// name of every definition resolves once the tools' packages are linked.
func TestCatalogLoadsWithEveryQuirkRegistered(t *testing.T) {
	defs, err := destinations.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) == 0 {
		t.Fatal("the catalog is empty")
	}
}

// itemErrorCase is one response fixture of a tool's testdata/item_errors.yaml.
type itemErrorCase struct {
	Name   string `yaml:"name"`
	Status int    `yaml:"status"`
	Body   string `yaml:"body"`
	// Items is the class each item of the batch ends with.
	Items []string `yaml:"items"`
	// Messages is text each listed item's error contains.
	Messages map[int]string `yaml:"messages"`
	// Key and Bodies make the request: the items' JSON (each {"i":1}
	// when unset), in body[Key] (the body is the array when Key is
	// unset), for a tool naming failed items by content.
	Key    string   `yaml:"key"`
	Bodies []string `yaml:"bodies"`
}

// TestItemErrorFixtures runs each tool's per-item error fixtures through a
// real Sender and Batcher against a tool answering the fixture's response:
// the table is data, next to the tool's definition; this is the one test
// that reads it. A tool that declares item_errors must have fixtures.
func TestItemErrorFixtures(t *testing.T) {
	defs, err := destinations.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		def := defs[name]
		if def.ItemErrors == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			parser, ok := destinations.ItemErrorsMatcher(def.ItemErrors)
			if !ok {
				t.Fatalf("item_errors %q is not registered", def.ItemErrors)
			}
			data, err := os.ReadFile(filepath.Join("..", name, "testdata", "item_errors.yaml"))
			if err != nil {
				t.Fatalf("%s declares item_errors %q but has no fixtures: %v", name, def.ItemErrors, err)
			}
			var cases []itemErrorCase
			dec := yaml.NewDecoder(strings.NewReader(string(data)))
			dec.KnownFields(true)
			if err := dec.Decode(&cases); err != nil {
				t.Fatalf("testdata/item_errors.yaml: %v", err)
			}
			if len(cases) == 0 {
				t.Fatal("testdata/item_errors.yaml has no case")
			}
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) { runItemErrorCase(t, parser, c) })
			}
		})
	}
}

func runItemErrorCase(t *testing.T, parser destinations.ItemErrorMatcher, c itemErrorCase) {
	if len(c.Items) == 0 {
		t.Fatal("a case lists the class of at least one item")
	}
	if c.Bodies != nil && len(c.Bodies) != len(c.Items) {
		t.Fatalf("%d bodies for %d items", len(c.Bodies), len(c.Items))
	}
	for i, b := range c.Bodies {
		if !json.Valid([]byte(b)) {
			t.Fatalf("bodies[%d] is not JSON: an item the Batcher refuses would fail whatever the response says", i)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(c.Status)
		_, _ = w.Write([]byte(c.Body))
	}))
	defer srv.Close()
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "fixture", Attempts: 1, ItemMatcher: parser})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := destinations.NewBatcher(destinations.BatchSpec{MaxItems: len(c.Items), Key: c.Key}, s.Send)
	got := make([]destinations.Result, len(c.Items))
	var wg sync.WaitGroup
	wg.Add(len(c.Items))
	for i := range c.Items {
		body := `{"i":1}`
		if c.Bodies != nil {
			body = c.Bodies[i]
		}
		b.Add(&destinations.Request{Method: "POST", URL: srv.URL, Body: []byte(body), Items: 1, Action: "a"},
			func(r destinations.Result) { got[i] = r; wg.Done() })
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, want := range c.Items {
		r := got[i]
		if r.Class.String() != want {
			t.Errorf("item %d: class %s (%v), want %s", i, r.Class, r.Err, want)
			continue
		}
		if msg, ok := c.Messages[i]; ok && (r.Err == nil || !strings.Contains(r.Err.Error(), msg)) {
			t.Errorf("item %d: error %v, want it to contain %q", i, r.Err, msg)
		}
	}
	for i := range c.Messages {
		if i < 0 || i >= len(c.Items) {
			t.Errorf("messages names item %d of %d", i, len(c.Items))
		}
	}
}
