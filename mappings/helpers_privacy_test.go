package mappings

import "testing"

func TestPrivacyAndDisplayHelpers(t *testing.T) {
	const ev = `{"type":"track","event":"Signup Form Submitted","properties":{"email":"ada@example.com","Phone":"+44 20 7946 0958",
		"first_name":"Ada","lastName":"Lovelace","postal_code":"SW1Y 4JH","contact":" friend@example.com ","plan":"pro","seats":3,
		"name":"Spring form","revenue":"$45.00","total":27.5,"when":"2024-03-01T10:00:00Z","tags":["a","b"]}}`
	runHelperCases(t, []helperCase{
		{"withoutPersonalData drops personal keys and email values", ev, `withoutPersonalData(properties)`,
			map[string]any{"plan": "pro", "seats": int64(3), "name": "Spring form", "revenue": "$45.00", "total": 27.5,
				"when": "2024-03-01T10:00:00Z", "tags": []any{"a", "b"}}, ""},
		{"withoutPersonalData keeps an opted-in key, any spelling", ev, `withoutPersonalData(properties, "postalCode", ["E-Mail"]).postal_code`,
			"SW1Y 4JH", ""},
		{"withoutPersonalData keeps keys opted in as a list", ev, `withoutPersonalData(properties, "postalCode", ["E-Mail"]).email`,
			"ada@example.com", ""},
		{"withoutPersonalData still drops what is not opted in", ev, `withoutPersonalData(properties, "postalCode").first_name`,
			nil, ""},
		{"withoutPersonalData nil", ev, `withoutPersonalData(nil)`, nil, ""},
		{"withoutPersonalData of a non-object", ev, `withoutPersonalData("x")`, nil, "withoutPersonalData: want an object"},
		{"withoutPersonalData with a bad allow list", ev, `withoutPersonalData(properties, 3)`, nil, "allowed key 1 must be a string"},
		{"display keeps what it cannot parse", ev, `display(properties.revenue)`, "$45.00", ""},
		{"display of a number", ev, `display(properties.total)`, "27.5", ""},
		{"display of a list", ev, `display(properties.tags)`, `["a","b"]`, ""},
		{"display of nil", ev, `display(properties.none)`, "", ""},
		{"formatTimes rewrites date-times at any depth", ev, `formatTimes({"a": properties.when, "b": [{"c": "2025-02-01T12:00:00+02:00"}], "d": "2024-11-05", "e": "2024 plans", "f": 3}, "2006-01-02 15:04:05 -07:00")`,
			map[string]any{"a": "2024-03-01 10:00:00 +00:00", "b": []any{map[string]any{"c": "2025-02-01 10:00:00 +00:00"}}, "d": "2024-11-05", "e": "2024 plans", "f": 3}, ""},
		{"formatTimes of a time without zone is UTC", ev, `formatTimes("2025-01-05 08:30:00", "2006-01-02 15:04:05 -07:00")`, "2025-01-05 08:30:00 +00:00", ""},
		{"formatTimes needs a layout", ev, `formatTimes(properties, "")`, nil, "formatTimes: the layout must be a Go time layout"},
	})
}
