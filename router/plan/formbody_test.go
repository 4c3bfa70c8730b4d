package plan

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// A form body is the flat fields, sorted and percent-encoded; numbers keep
// every digit and nulls are left out, as in JSON bodies.
func TestEncodeFormWritesFlatFieldsSorted(t *testing.T) {
	got, err := encodeForm(map[string]any{
		"To": "whatsapp:+15552229999", "Body": "Hi & welcome = 100%", "MaxPrice": 0.5,
		"ValidityPeriod": json.Number("36000"), "SmartEncoded": true, "Skipped": nil, "Big": 12345678901234567.0,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Big=12345678901234568&Body=Hi+%26+welcome+%3D+100%25&MaxPrice=0.5&SmartEncoded=true&To=whatsapp%3A%2B15552229999&ValidityPeriod=36000"
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := url.ParseQuery(string(got))
	if err != nil || back.Get("Body") != "Hi & welcome = 100%" || back.Has("Skipped") {
		t.Fatalf("does not decode back: %v %v", back, err)
	}
}

// Nested objects and lists have no form encoding the tool is sure to
// share: the event fails for the action, each offending field named.
func TestEncodeFormRefusesNestedValuesNamingThem(t *testing.T) {
	_, err := encodeForm(map[string]any{"To": "+15550100", "MediaUrl": []any{"a", "b"}, "Meta": map[string]any{"k": 1}})
	if err == nil {
		t.Fatal("nested values were encoded")
	}
	for _, want := range []string{"MediaUrl is a list", "Meta is an object", "only text, number and boolean fields"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := encodeForm([]any{"x"}); err == nil || !strings.Contains(err.Error(), "must be an object") {
		t.Errorf("a list body: %v", err)
	}
}
