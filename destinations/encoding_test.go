package destinations

import (
	"strings"
	"testing"
	"testing/fstest"
)

// request.encoding is json or form, on the tool or a preset; anything else
// is refused at load (a typo would send JSON to a form-only API), and a
// preset's encoding overrides the tool's.
func TestRequestEncodingIsCheckedAndInherited(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/formtool/definition.yaml": {Data: []byte("name: formtool\ntitle: Form\nrequest:\n  encoding: form\npresets:\n  - name: a\n  - name: b\n    request:\n      encoding: json\n" + noDeletion)},
		"catalog/typo/definition.yaml":     {Data: []byte("name: typo\ntitle: Typo\npresets:\n  - name: a\n    request:\n      encoding: urlencoded\n" + noDeletion)},
	}
	defs, err := loadCatalog(fsys)
	if err == nil || !strings.Contains(err.Error(), `catalog/typo/definition.yaml: request encoding "urlencoded" is not json or form`) {
		t.Fatalf("error %v, want the typo refused", err)
	}
	d := defs["formtool"]
	if d == nil {
		t.Fatal("the valid definition was not kept")
	}
	for preset, want := range map[string]string{"a": EncodingForm, "b": EncodingJSON, "missing": EncodingForm} {
		if got := d.BodyEncoding(preset); got != want {
			t.Errorf("preset %s: encoding %s, want %s", preset, got, want)
		}
	}
}
