package destinations

import (
	"reflect"
	"testing"
)

func TestAmplitudeItemErrorsNamesRefusedEventsAndRetriesTheRest(t *testing.T) {
	const notIngested = "not ingested: Amplitude refused the upload because of other events in it"
	cases := []struct {
		name   string
		status int
		body   string
		items  int
		want   []ItemError
	}{
		{"accepted", 200, `{"code":200,"events_ingested":3,"payload_size_bytes":50,"server_upload_time":1}`, 3, nil},
		{"invalid and missing fields", 400,
			`{"code":400,"error":"Request missing required field","events_with_invalid_fields":{"time":[1]},"events_with_missing_fields":{"event_type":[1,2]}}`, 4,
			[]ItemError{
				{Index: 0, Class: Retryable, Status: 400, Message: notIngested},
				{Index: 1, Class: Permanent, Status: 400, Message: "invalid time, missing event_type (Request missing required field)"},
				{Index: 2, Class: Permanent, Status: 400, Message: "missing event_type (Request missing required field)"},
				{Index: 3, Class: Retryable, Status: 400, Message: notIngested},
			}},
		{"short ids and silenced devices", 400,
			`{"code":400,"events_with_invalid_id_lengths":{"device_id":[0]},"silenced_events":[1]}`, 2,
			[]ItemError{
				{Index: 0, Class: Permanent, Status: 400, Message: "id shorter than min_id_length: device_id"},
				{Index: 1, Class: Permanent, Status: 400, Message: "device silenced by Amplitude"},
			}},
		{"indexes outside the batch are ignored", 400, `{"events_with_invalid_fields":{"time":[-1,9]}}`, 2, nil},
		{"no event named: whole request classification", 400, `{"code":400,"error":"Invalid API key","missing_field":"api_key"}`, 2, nil},
		{"not JSON", 400, `<html>bad</html>`, 2, nil},
		{"throttled is retried whole", 429, `{"code":429,"throttled_events":[0]}`, 2, nil},
	}
	for _, c := range cases {
		got := AmplitudeItemErrors(c.status, []byte(c.body), c.items)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if _, ok := ItemErrorsParser("amplitude"); !ok {
		t.Error(`"amplitude" is not registered`)
	}
}
