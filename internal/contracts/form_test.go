package contracts

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// A form-encoded body (previewed as text) is checked against the
// operation's application/x-www-form-urlencoded schema: values are read as
// their declared types, and a field the contract does not declare fails,
// since Twilio ignores unknown parameters without a word.
func TestFormBodiesAreCheckedAgainstTheFormSchema(t *testing.T) {
	c := &destinations.Contract{OpenAPI: "twilio/twilio_api_v2010.json", Path: "/2010-04-01/Accounts/{AccountSid}/Messages.json", Method: "POST"}
	ok := `"Body=Hi&From=%2B15017122661&To=%2B15558675310&ValidityPeriod=600&SmartEncoded=true"`
	if err := Validate("", c, []byte(ok)); err != nil {
		t.Fatalf("a valid message was refused: %v", err)
	}
	for body, want := range map[string]string{
		`"To=%2B15558675310&Bodyy=Hi"`:                      "form fields not in the contract: Bodyy",
		`"Body=Hi"`:                                         `property "To" is missing`,
		`"To=%2B15558675310&ValidityPeriod=soon"`:           "ValidityPeriod",
		`"To=%2B15558675310&MessagingServiceSid=not-a-sid"`: "MessagingServiceSid",
	} {
		err := Validate("", c, []byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", body, err, want)
		}
	}
}
