package destinations

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A definition naming an item_errors parser or an auth that nothing
// registered is refused at load: a typo must not silently turn per-item
// parsing off (a Braze partial failure would count as delivered).
func TestCatalogRefusesUnresolvedQuirkNames(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/good/definition.yaml":   {Data: []byte("name: good\ntitle: Good\nitem_errors: standard\n")},
		"catalog/typo/definition.yaml":   {Data: []byte("name: typo\ntitle: Typo\nitem_errors: brazee\n")},
		"catalog/noauth/definition.yaml": {Data: []byte("name: noauth\ntitle: No auth\nauth: google-service-acount\n")},
	}
	defs, err := loadCatalog(fsys)
	if err == nil {
		t.Fatal("a definition with an unregistered item_errors and one with an unknown auth loaded without error")
	}
	for _, want := range []string{`catalog/typo/definition.yaml: item_errors "brazee" is not a registered parser`, `catalog/noauth/definition.yaml: auth: unknown auth "google-service-acount"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, ok := defs["good"]; !ok {
		t.Error("the valid definition was not kept")
	}
	if _, ok := defs["typo"]; ok {
		t.Error("the definition with the typo was kept: its quirk would be silently off")
	}
}
