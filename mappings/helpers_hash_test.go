package mappings

import "testing"

func TestHashHelpers(t *testing.T) {
	const (
		ev          = `{"type":"identify","userId":"u1","traits":{"email":"  Jane@Example.COM ","phone":"+1 (555) 010-9999"}}`
		janeSHA     = "8c87b489ce35cf2e2f39f80e282cb2e804932a56a213983eeeb428407d43b52d"
		phoneE164   = "d6793cafee143dab64595a0d6ef1f17cd3e7e39c1b87fdd338410e4c71cc4aaf" // "+15550109999"
		phoneDigits = "91a02cd9e0fdea8309e2361e0c1d2eb133b283c1cc08d5562185d25a613783af" // "15550109999"
		ukE164      = "9957211890c7199877363cf0513d44429683408bb094930d048f9182abf73232" // "+442071234567"
		national    = "91d9ca7df96824d25942715a004bc1c041bf98c4ee9b1dfc465df6f74841673b" // "5550109999"
	)
	runHelperCases(t, []helperCase{
		{"sha256 hex lower-case", ev, `sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ""},
		{"sha256 hashes as given", ev, `sha256(userIdOrAnonymousId())`, "bb82030dbc2bcaba32a90bf2e207a84a856fc5f033b77c480836ab6f77f40f19", ""},
		{"sha256 of a number hashes its text", ev, `sha256(123)`, "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3", ""},
		{"sha256 nil", ev, `sha256(traits.none)`, nil, ""},
		{"sha256 empty is nil", ev, `sha256("")`, nil, ""},
		{"sha256 of an object is an error", ev, `sha256(traits)`, nil, "sha256: want a string, got an object"},

		{"sha256Email trims and lower-cases", ev, `sha256Email(email())`, janeSHA, ""},
		{"sha256Email of a digest passes through", ev, `sha256Email("8C87B489CE35CF2E2F39F80E282CB2E804932A56A213983EEEB428407D43B52D")`, janeSHA, ""},
		{"sha256Email nil", `{"type":"identify","traits":{}}`, `sha256Email(email())`, nil, ""},

		{"sha256Phone E.164 keeps plus", ev, `sha256Phone(phone())`, phoneE164, ""},
		{"sha256Phone e164 format named", ev, `sha256Phone(phone(), "E164")`, phoneE164, ""},
		{"sha256Phone digits for Meta", ev, `sha256Phone(phone(), "digits")`, phoneDigits, ""},
		{"sha256Phone 00 prefix is plus", ev, `sha256Phone("0044 20 7123 4567")`, ukE164, ""},
		{"sha256Phone national number stays digits", ev, `sha256Phone("(555) 010-9999")`, national, ""},
		{"sha256Phone numeric phone", ev, `sha256Phone(15550109999, "digits")`, phoneDigits, ""},
		{"sha256Phone digest passes through", ev, `sha256Phone("` + phoneE164 + `")`, phoneE164, ""},
		{"sha256Phone no digits is nil", ev, `sha256Phone("n/a")`, nil, ""},
		{"sha256Phone plus only is nil", ev, `sha256Phone("+")`, nil, ""},
		{"sha256Phone nil", ev, `sha256Phone(nil)`, nil, ""},
		{"sha256Phone unknown format", ev, `sha256Phone(phone(), "meta")`, nil, `sha256Phone: unknown format "meta"`},
		{"sha256Phone unknown format even without a phone", ev, `sha256Phone(nil, "meta")`, nil, `sha256Phone: unknown format "meta"`},

		{"md5", ev, `md5("abc")`, "900150983cd24fb0d6963f7d28e17f72", ""},
		{"md5 nil", ev, `md5(nil)`, nil, ""},
		{"mailchimpHash lower-cases", ev, `mailchimpHash(email())`, "9e26471d35a78862c17e467d87cddedf", ""},
		{"mailchimpHash nil", ev, `mailchimpHash(traits.none)`, nil, ""},
		{"mailchimpHash of a list is an error", ev, `mailchimpHash([1])`, nil, "mailchimpHash: want a string, got a list"},
	})
}
