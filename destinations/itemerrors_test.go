package destinations

import (
	"reflect"
	"testing"
)

func TestStandardItemErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"accepted", 200, `{"errors":[{"index":0,"status":400}]}`, 3, nil},
		{"one bad", 207, `{"errors":[{"index":2,"status":400,"message":"bad email"}]}`, 3,
			[]ItemError{{Index: 2, Class: Permanent, Status: 400, Message: "bad email"}}},
		{"retryable item", 207, `{"errors":[{"index":0,"status":503,"message":"later"},{"index":1,"message":"no status"}]}`, 2,
			[]ItemError{{Index: 0, Class: Retryable, Status: 503, Message: "later"}, {Index: 1, Class: Permanent, Message: "no status"}}},
		{"ignored entries", 207, `{"errors":[{"index":5,"status":400},{"status":400},{"index":0,"status":200},{"index":1,"status":422},{"index":1,"status":500}]}`, 2,
			[]ItemError{{Index: 1, Class: Permanent, Status: 422, Message: "rejected by the receiver"}}},
		{"none failed", 207, `{"errors":[]}`, 2, nil},
	}
	for _, c := range cases {
		got := StandardItemErrors(c.status, []byte(c.body), c.items)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	got := StandardItemErrors(207, []byte(`<html>partial</html>`), 2)
	if len(got) != 2 || got[0].Class != Permanent || got[1].Index != 1 {
		t.Errorf("unreadable 207: %+v", got)
	}
}

func TestItemErrorsRegistry(t *testing.T) {
	if _, ok := ItemErrorsParser("standard"); !ok {
		t.Fatal("standard parser not registered")
	}
	if _, ok := ItemErrorsParser("nope"); ok {
		t.Fatal("unknown parser found")
	}
	if _, ok := ItemErrorsParser("test-registry"); !ok { // registered once per process, for -count
		RegisterItemErrors("test-registry", func(int, []byte, int) []ItemError { return nil })
	}
	if _, ok := ItemErrorsParser("test-registry"); !ok {
		t.Fatal("registered parser not found")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	RegisterItemErrors("standard", StandardItemErrors)
}
