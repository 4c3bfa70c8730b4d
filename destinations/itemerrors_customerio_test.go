package destinations

import (
	"reflect"
	"strings"
	"testing"
)

func TestCustomerIOItemErrorsFailOnlyTheListedOperations(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"200 accepts the batch", 200, `{}`, 3, nil},
		{"200 with an errors list is still accepted", 200, `{"errors":[{"batch_index":0}]}`, 3, nil},
		{
			"one rejected operation", 207,
			`{"errors":[{"batch_index":1,"reason":"required","field":"name","message":"name is required"}]}`,
			3,
			[]ItemError{{Index: 1, Class: Permanent, Status: 207, Message: "name is required"}},
		},
		{
			"several errors for one operation are joined, order kept", 207,
			`{"errors":[
				{"batch_index":2,"reason":"invalid","field":"identifiers.email"},
				{"batch_index":0,"message":"attributes too large"},
				{"batch_index":2,"reason":"required","field":"name"}]}`,
			3,
			[]ItemError{
				{Index: 2, Class: Permanent, Status: 207, Message: "invalid: identifiers.email; required: name"},
				{Index: 0, Class: Permanent, Status: 207, Message: "attributes too large"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CustomerIOItemErrors(c.status, []byte(c.body), c.items)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestCustomerIOItemErrorsFailEverythingWhenTheReportIsUnclear(t *testing.T) {
	cases := map[string]string{
		"not JSON":                `<html>207</html>`,
		"no errors list":          `{"ok":true}`,
		"empty errors list":       `{"errors":[]}`,
		"entry without an index":  `{"errors":[{"batch_index":0,"message":"bad"},{"message":"lost"}]}`,
		"index outside the batch": `{"errors":[{"batch_index":7,"message":"bad"}]}`,
		"negative index":          `{"errors":[{"batch_index":-1,"message":"bad"}]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			got := CustomerIOItemErrors(207, []byte(body), 2)
			if len(got) != 2 {
				t.Fatalf("got %d item errors, want every item (2): %+v", len(got), got)
			}
			for i, ie := range got {
				if ie.Index != i || ie.Class != Permanent || ie.Status != 207 || !strings.Contains(ie.Message, "207") {
					t.Errorf("item %d: %+v", i, ie)
				}
			}
		})
	}
}

func TestCustomerIOItemErrorsIsRegistered(t *testing.T) {
	if _, ok := ItemErrorsParser("customerio"); !ok {
		t.Fatal(`item error parser "customerio" is not registered`)
	}
}
