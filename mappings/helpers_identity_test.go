package mappings

import (
	"reflect"
	"testing"
	"time"
)

func TestIdentityHelpers(t *testing.T) {
	const (
		identify = `{"type":"identify","userId":"u1","traits":{"email":" Jane@Example.com ","phone":"+1 555 010 9999",
			"firstName":"Jane","lastName":"Doe","username":"jdoe","avatar":"https://a/j.png","title":"CTO",
			"birthday":"1990-04-01","gender":"female","company":{"name":"Initech","plan":"pro"},
			"address":{"city":"Paris","country":"FR","postal_code":75001,"state":"IDF","street":"1 rue X"}},
			"context":{"traits":{"email":"old@example.com","plan":"free","seen":true}}}`
		trackCtx = `{"type":"track","event":"Order Completed","userId":"u1",
			"context":{"traits":{"email":"ctx@example.com","first_name":"Ann","last_name":"Lee","company":"Acme",
			"city":"Lyon","postalCode":"69001"}},"properties":{"email":"prop@example.com"}}`
		trackProps = `{"type":"track","event":"Order Completed","userId":"u1","properties":{"email":" prop@example.com","phone":15550109999}}`
		group      = `{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Initech","email":"billing@initech.com","phone":"111"},
			"context":{"traits":{"email":"jane@initech.com"}}}`
		groupNoCtx = `{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Initech","email":"billing@initech.com"}}`
		page       = `{"type":"page","anonymousId":"a1","name":"Home","context":{"traits":{"email":"p@example.com","name":"Pat Q Public"}},
			"properties":{"email":"not-for-pages@example.com"}}`
	)
	runHelperCases(t, []helperCase{
		{"userId wins", identify, `userIdOrAnonymousId()`, "u1", ""},
		{"anonymousId when no userId", page, `userIdOrAnonymousId()`, "a1", ""},
		{"numeric userId is text", `{"type":"track","event":"x","userId":12345678901234,"anonymousId":"a"}`, `userIdOrAnonymousId()`, "12345678901234", ""},

		{"email from identify traits, trimmed", identify, `email()`, "Jane@Example.com", ""},
		{"email from context.traits on track before properties", trackCtx, `email()`, "ctx@example.com", ""},
		{"email from properties on track", trackProps, `email()`, "prop@example.com", ""},
		{"email not from properties on page", `{"type":"page","properties":{"email":"x@example.com"}}`, `email()`, nil, ""},
		{"email from context.traits on page", page, `email()`, "p@example.com", ""},
		{"email on group is the user's", group, `email()`, "jane@initech.com", ""},
		{"email on group never the group's", groupNoCtx, `email()`, nil, ""},
		{"blank email falls through", `{"type":"identify","traits":{"email":"  "},"context":{"traits":{"email":"c@example.com"}}}`, `email()`, "c@example.com", ""},
		{"non-string email is absent", `{"type":"identify","traits":{"email":42}}`, `email()`, nil, ""},
		{"email absent is nil", `{"type":"track","event":"x"}`, `email()`, nil, ""},
		{"email null is nil", `{"type":"identify","traits":{"email":null}}`, `email()`, nil, ""},
		{"absent email compares false, not an error", `{"type":"track","event":"x"}`, `email() == "a@b.c"`, false, ""},

		{"phone from traits", identify, `phone()`, "+1 555 010 9999", ""},
		{"phone number from properties keeps digits", trackProps, `phone()`, "15550109999", ""},
		{"phone on group is not the group's", group, `phone()`, nil, ""},

		{"firstName camelCase", identify, `firstName()`, "Jane", ""},
		{"firstName snake_case", trackCtx, `firstName()`, "Ann", ""},
		{"lastName snake_case", trackCtx, `lastName()`, "Lee", ""},
		{"firstName from name", page, `firstName()`, "Pat", ""},
		{"lastName from name is the rest", page, `lastName()`, "Q Public", ""},
		{"lastName of one-word name is nil", `{"type":"identify","traits":{"name":"Cher"}}`, `lastName()`, nil, ""},
		{"fullName from name", page, `fullName()`, "Pat Q Public", ""},
		{"fullName joins first and last", identify, `fullName()`, "Jane Doe", ""},
		{"fullName with only a first name", `{"type":"identify","traits":{"first_name":"Jo"}}`, `fullName()`, "Jo", ""},
		{"fullName absent", `{"type":"identify","traits":{}}`, `fullName()`, nil, ""},
		{"name is still the page name", page, `name`, "Home", ""},

		{"username", identify, `username()`, "jdoe", ""},
		{"avatar", identify, `avatar()`, "https://a/j.png", ""},
		{"title", identify, `title()`, "CTO", ""},
		{"birthday", identify, `birthday()`, "1990-04-01", ""},
		{"gender", identify, `gender()`, "female", ""},
		{"company object", identify, `company()`, "Initech", ""},
		{"company string", trackCtx, `company()`, "Acme", ""},
		{"company on group is the group's name", group, `company()`, "Initech", ""},
		{"company absent", page, `company()`, nil, ""},

		{"city from address", identify, `city()`, "Paris", ""},
		{"city top-level", trackCtx, `city()`, "Lyon", ""},
		{"country from address", identify, `country()`, "FR", ""},
		{"numeric postal_code is text", identify, `postalCode()`, "75001", ""},
		{"postalCode camelCase top-level", trackCtx, `postalCode()`, "69001", ""},
		{"state", identify, `state()`, "IDF", ""},
		{"street", identify, `street()`, "1 rue X", ""},
		{"address absent", page, `city()`, nil, ""},

		{"traitsOf identify merges, traits win", identify, `[traitsOf().email, traitsOf().plan, traitsOf().seen]`,
			[]any{" Jane@Example.com ", "free", true}, ""},
		{"traitsOf track is context.traits", trackCtx, `traitsOf().company`, "Acme", ""},
		{"traitsOf group is the user's", group, `traitsOf()`, map[string]any{"email": "jane@initech.com"}, ""},
		{"traitsOf absent", `{"type":"track","event":"x"}`, `traitsOf()`, nil, ""},
	})
}

func TestContextHelpers(t *testing.T) {
	const full = `{"type":"track","event":"Product Viewed","context":{"ip":"8.8.8.8","userAgent":"Mozilla/5.0",
		"locale":"fr-FR","timezone":"Europe/Paris","device":{"id":"d1","type":"ios","token":"tok","advertisingId":"ad"},
		"os":{"name":"iOS","version":"17.2"},"app":{"version":"3.1.0"},
		"page":{"url":"https://shop.example/p?utm_source=news&utm_campaign=spring","referrer":"https://google.com/"},
		"campaign":{"source":"google","medium":"cpc","name":"Spring","term":"shoes","content":"ad1"}},
		"properties":{"url":"https://shop.example/product/1"}}`
	const bare = `{"type":"track","event":"x"}`
	const noCampaign = `{"type":"track","event":"x","context":{"page":{"url":"https://s.example/?utm_source=news&utm_campaign=spring&utm_medium="}}}`
	const pageEv = `{"type":"page","name":"Home","properties":{"url":"https://s.example/home","referrer":"https://r.example/"},
		"context":{"page":{"url":"https://s.example/ctx"}}}`
	runHelperCases(t, []helperCase{
		{"ip", full, `ip()`, "8.8.8.8", ""},
		{"userAgent", full, `userAgent()`, "Mozilla/5.0", ""},
		{"user_agent", `{"type":"track","event":"x","context":{"user_agent":"UA"}}`, `userAgent()`, "UA", ""},
		{"locale", full, `locale()`, "fr-FR", ""},
		{"userTimezone", full, `userTimezone()`, "Europe/Paris", ""},
		{"timezone builtin still works", full, `now().In(timezone(userTimezone())).Location().String()`, "Europe/Paris", ""},
		{"deviceId", full, `deviceId()`, "d1", ""},
		{"deviceType", full, `deviceType()`, "ios", ""},
		{"deviceToken", full, `deviceToken()`, "tok", ""},
		{"advertisingId", full, `advertisingId()`, "ad", ""},
		{"os", full, `os()`, "iOS", ""},
		{"osVersion", full, `osVersion()`, "17.2", ""},
		{"appVersion", full, `appVersion()`, "3.1.0", ""},
		{"context helpers absent", bare, `[ip(), userAgent(), locale(), userTimezone(), deviceId(), os(), appVersion(), pageUrl(), referrer()]`,
			[]any{nil, nil, nil, nil, nil, nil, nil, nil, nil}, ""},
		{"device not an object", `{"type":"track","event":"x","context":{"device":"phone"}}`, `deviceId()`, nil, ""},

		{"pageUrl on track ignores the product url", full, `pageUrl()`, "https://shop.example/p?utm_source=news&utm_campaign=spring", ""},
		{"pageUrl on page prefers properties.url", pageEv, `pageUrl()`, "https://s.example/home", ""},
		{"referrer on page", pageEv, `referrer()`, "https://r.example/", ""},
		{"referrer from context.page", full, `referrer()`, "https://google.com/", ""},
		{"referrer from context.referrer", `{"type":"screen","name":"s","context":{"referrer":{"type":"app","url":"deep://x"}}}`, `referrer()`, "deep://x", ""},

		{"utm source", full, `utm("source")`, "google", ""},
		{"utm medium", full, `utm("medium")`, "cpc", ""},
		{"utm name", full, `utm("name")`, "Spring", ""},
		{"utm campaign is name", full, `utm("campaign")`, "Spring", ""},
		{"utm_term prefix accepted", full, `utm("utm_term")`, "shoes", ""},
		{"utm content", full, `utm("Content")`, "ad1", ""},
		{"utm from page url query", noCampaign, `utm("source")`, "news", ""},
		{"utm campaign from page url query", noCampaign, `utm("name")`, "spring", ""},
		{"utm empty query value is nil", noCampaign, `utm("medium")`, nil, ""},
		{"utm absent", bare, `utm("source")`, nil, ""},
		{"utm unknown field", full, `utm("sorce")`, nil, `utm: unknown campaign field "sorce"`},
	})
}

// personTraits takes a validated event's trait objects from what fromTop
// derived (Event.Traits); they must be those it looks up otherwise.
func TestPersonTraitsOfAValidatedEvent(t *testing.T) {
	for _, data := range []string{
		`{"type":"identify","messageId":"m","userId":"u","traits":{"email":"a@b.c"},"context":{"traits":{"phone":"1"}}}`,
		`{"type":"identify","messageId":"m","userId":"u","context":{"traits":{"phone":"1"}}}`,
		`{"type":"identify","messageId":"m","userId":"u","traits":{"email":"a@b.c"}}`,
		`{"type":"track","event":"x","messageId":"m","userId":"u","traits":{"email":"raw"},"context":{"traits":{"email":"ctx"}}}`,
		`{"type":"track","event":"x","messageId":"m","userId":"u","context":{"traits":"not an object"}}`,
		`{"type":"page","messageId":"m","userId":"u","context":{"traits":{"firstName":"Ada"}}}`,
		`{"type":"group","messageId":"m","userId":"u","groupId":"g","traits":{"name":"Acme"},"context":{"traits":{"email":"a@b.c"}}}`,
		`{"type":"alias","messageId":"m","userId":"u","previousId":"p"}`,
	} {
		ev, err := Decode([]byte(data), time.Now(), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if got, want := personTraits(ev), personTraits(ev.WithRaw(ev.Raw)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: personTraits = %v; looked up it is %v", data, got, want)
		}
	}
}
