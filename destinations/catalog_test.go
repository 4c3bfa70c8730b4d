package destinations

import (
	"strings"
	"testing"
	"testing/fstest"
)

// noDeletion completes a test definition: every tool says how it deletes.
const noDeletion = "deletion:\n  unsupported: a test tool\n"

// A definition naming an item_errors parser or an auth that nothing
// registered is refused at load: a typo must not silently turn per-item
// parsing off (a Braze partial failure would count as delivered).
func TestCatalogRefusesUnresolvedQuirkNames(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/good/definition.yaml":   {Data: []byte("name: good\ntitle: Good\nitem_errors: standard\n" + noDeletion)},
		"catalog/typo/definition.yaml":   {Data: []byte("name: typo\ntitle: Typo\nitem_errors: brazee\n" + noDeletion)},
		"catalog/noauth/definition.yaml": {Data: []byte("name: noauth\ntitle: No auth\nauth: google-service-acount\n" + noDeletion)},
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

// Every definition says how the tool erases a user, or why it cannot, and
// its delete actions are named apart from its presets.
func TestCatalogRequiresADeletionAnswer(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/silent/definition.yaml": {Data: []byte("name: silent\ntitle: Silent\n")},
		"catalog/both/definition.yaml":   {Data: []byte("name: both\ntitle: Both\ndeletion:\n  unsupported: no\n  actions:\n    - name: delete\n")},
		"catalog/clash/definition.yaml":  {Data: []byte("name: clash\ntitle: Clash\npresets:\n  - name: track\ndeletion:\n  actions:\n    - name: track\n      absent: [200]\n")},
	}
	_, err := loadCatalog(fsys)
	if err == nil {
		t.Fatal("definitions without a deletion answer loaded")
	}
	for _, want := range []string{
		"catalog/silent/definition.yaml: deletion: neither actions nor unsupported",
		"catalog/both/definition.yaml: deletion: both actions and unsupported",
		"catalog/clash/definition.yaml: deletion: action track has the name of a preset",
		"absent status 200 is not an error status",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	defs, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range defs {
		if d.Deletion.Unsupported == "" && len(d.Deletion.Actions) == 0 {
			t.Errorf("%s: no deletion answer", name)
		}
	}
}

// A preset's own rate is a positive rps and nothing else: its concurrency
// would mean nothing, the destination's being shared by its presets.
func TestCatalogRefusesABadPresetRate(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/fine/definition.yaml": {Data: []byte("name: fine\ntitle: Fine\npresets:\n  - name: bulk\n    rate: {rps: 5}\n" + noDeletion)},
		"catalog/zero/definition.yaml": {Data: []byte("name: zero\ntitle: Zero\npresets:\n  - name: bulk\n    rate: {rps: 0}\n" + noDeletion)},
		"catalog/conc/definition.yaml": {Data: []byte("name: conc\ntitle: Conc\npresets:\n  - name: bulk\n    rate: {rps: 5, concurrency: 2}\n" + noDeletion)},
	}
	defs, err := loadCatalog(fsys)
	if err == nil {
		t.Fatal("presets with a zero rate and a concurrency of their own loaded")
	}
	for _, want := range []string{"catalog/zero/definition.yaml: preset bulk: rate needs rps above 0", "catalog/conc/definition.yaml: preset bulk: rate needs rps above 0, and no concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d, ok := defs["fine"]; !ok || d.Presets[0].Rate == nil || d.Presets[0].Rate.RPS != 5 {
		t.Errorf("the valid definition was not kept with its rate: %+v", defs["fine"])
	}
}
