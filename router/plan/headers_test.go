package plan

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/mappings"
)

// headerAndBody builds the headers as http.Header.Set would, one by one:
// canonical keys, the last of two spellings of one key winning, the
// action's Content-Type kept; and a value appended later does not write
// into another's.
func TestHeaderAndBodyHeadersAsSet(t *testing.T) {
	one := mappings.Rendered{
		Headers: [][2]string{{"x-ua-appkey", "a"}, {"Authorization", "Bearer k"}, {"X-UA-APPKEY", "b"}, {"content-type", "application/vnd.x+json"}},
		Body:    map[string]any{"a": 1},
	}
	h, body, err := headerAndBody(one, false)
	if err != nil || string(body) != `{"a":1}` {
		t.Fatalf("body %s, err %v", body, err)
	}
	want := http.Header{}
	for _, kv := range one.Headers {
		want.Set(kv[0], kv[1])
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	h.Add("X-Ua-Appkey", "c")
	h.Set("Webhook-Id", "m-1")
	if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer k" {
		t.Fatalf("Authorization = %v after adding to another header", got)
	}
	one.Headers = one.Headers[:2]
	h, _, _ = headerAndBody(one, false)
	if h.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json when the action sets none", h.Get("Content-Type"))
	}
	h, _, _ = headerAndBody(one, true)
	if h.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("form Content-Type = %q", h.Get("Content-Type"))
	}
}

// BenchmarkHeaderAndBody is the per-request cost of a rendered request's
// headers and JSON body.
func BenchmarkHeaderAndBody(b *testing.B) {
	one := mappings.Rendered{
		Headers: [][2]string{{"Authorization", "Bearer k"}, {"Accept", "application/vnd.urbanairship+json; version=3"}, {"X-UA-Appkey", "a"}},
		Body:    map[string]any{"name": "order completed", "value": 12.5, "user": map[string]any{"named_user_id": "u-1"}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := headerAndBody(one, false); err != nil {
			b.Fatal(err)
		}
	}
}
