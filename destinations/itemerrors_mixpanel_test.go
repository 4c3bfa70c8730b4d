package destinations

import (
	"reflect"
	"testing"
)

func TestMixpanelItemErrorsFailOnlyTheRecordsMixpanelNames(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"import accepted", 200, `{"code":200,"num_records_imported":3,"status":"OK"}`, 3, nil},
		{"engage accepted", 200, `1`, 2, nil},
		{"engage verbose accepted", 200, `{"status": 1, "error": null}`, 2, nil},
		{"engage none valid", 200, "0\n", 2, []ItemError{
			{Index: 0, Class: Permanent, Status: 200, Message: "Mixpanel found no valid record in the request (response 0)"},
			{Index: 1, Class: Permanent, Status: 200, Message: "Mixpanel found no valid record in the request (response 0)"},
		}},
		{"engage verbose none valid", 200, `{"status": 0, "error": "$token is not a valid project token"}`, 1, []ItemError{
			{Index: 0, Class: Permanent, Status: 200, Message: "Mixpanel: $token is not a valid project token"},
		}},
		{"import partial", 400, `{"code":400,"num_records_imported":2,"status":"Bad Request","failed_records":[
			{"index":1,"insert_id":"abc","field":"properties.time","message":"'properties.time' is invalid"},
			{"index":1,"message":"again"},{"index":7,"message":"outside"},{"message":"no index"}]}`, 3, []ItemError{
			{Index: 1, Class: Permanent, Status: 400, Message: "properties.time: 'properties.time' is invalid"},
		}},
		{"400 naming nothing", 400, `{"code":400,"error":"invalid project_id","status":"Bad Request"}`, 2, nil},
		{"401", 401, `{"code":401,"error":"Invalid credentials"}`, 2, nil},
		{"not JSON", 400, `<html/>`, 2, nil},
	}
	for _, c := range cases {
		got := MixpanelItemErrors(c.status, []byte(c.body), c.items)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if _, ok := ItemErrorsParser("mixpanel"); !ok {
		t.Error(`"mixpanel" is not registered`)
	}
}
