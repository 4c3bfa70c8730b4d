package destinations

import (
	"reflect"
	"testing"
)

func TestBrazeItemErrorsFailOnlyTheListedObjects(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"plain success", 201, `{"message":"success","events_processed":3}`, 3, nil},
		{"empty body", 201, ``, 3, nil},
		{"not JSON", 201, `<html>ok</html>`, 3, nil},
		{
			"one invalid event", 201,
			`{"message":"success","errors":[{"type":"'external_id' or 'braze_id' or 'user_alias' is required","input_array":"events","index":1}]}`,
			3,
			[]ItemError{{Index: 1, Class: Permanent, Status: 201, Message: "events[1]: 'external_id' or 'braze_id' or 'user_alias' is required"}},
		},
		{
			"several, out of range and repeated entries", 201,
			`{"message":"success","errors":[
				{"type":"Purchase price must be a number","input_array":"purchases","index":0},
				{"type":"dup","input_array":"purchases","index":0},
				{"type":"too far","input_array":"purchases","index":9},
				{"type":"negative","input_array":"purchases","index":-1},
				{"type":"no index","input_array":"purchases"},
				{"input_array":"purchases","index":2}]}`,
			3,
			[]ItemError{
				{Index: 0, Class: Permanent, Status: 201, Message: "purchases[0]: Purchase price must be a number"},
				{Index: 2, Class: Permanent, Status: 201, Message: "purchases[2]: rejected by Braze"},
			},
		},
		{
			"entry without input_array", 200,
			`{"message":"success","errors":[{"type":"bad","index":0}]}`,
			1,
			[]ItemError{{Index: 0, Class: Permanent, Status: 200, Message: "bad"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := BrazeItemErrors(c.status, []byte(c.body), c.items)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestBrazeItemErrorsIsRegistered(t *testing.T) {
	if _, ok := ItemErrorsParser("braze"); !ok {
		t.Fatal(`item error parser "braze" is not registered`)
	}
}
