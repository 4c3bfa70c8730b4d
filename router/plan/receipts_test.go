package plan_test

import (
	"testing"
	"time"
)

// An expo destination checks receipts at its api_url with its access
// token, on the definition's delays; a tool without receipts has none.
func TestReceiptsAreResolvedFromTheDefinitionAndSettings(t *testing.T) {
	p := planFromText(t, "type: expo\nsettings:\n  api_url: https://proxy.test/expo\n  events: A\n  access_token: ${EXPO_TOKEN}\n")
	rc := p.Receipts
	if rc == nil {
		t.Fatal("an expo destination has no receipts")
	}
	if rc.HandlerName != "expo" || rc.URL != "https://proxy.test/expo/push/getReceipts" {
		t.Errorf("receipts %s at %s", rc.HandlerName, rc.URL)
	}
	if got := rc.Header.Get("Authorization"); got != "Bearer test-expo-token" {
		t.Errorf("Authorization %q", got)
	}
	if rc.Delay != 15*time.Minute || rc.Recheck != 15*time.Minute || rc.Expiry != 24*time.Hour {
		t.Errorf("delays %s %s %s", rc.Delay, rc.Recheck, rc.Expiry)
	}
	if p.SenderConfig().Tickets == nil {
		t.Error("the sender does not read tickets")
	}

	p = planFromText(t, "type: expo\nsettings:\n  events: A\n")
	if p.Receipts.URL != "https://exp.host/--/api/v2/push/getReceipts" || len(p.Receipts.Header) != 0 {
		t.Errorf("default receipts %s %v: want Expo's URL and no empty Authorization", p.Receipts.URL, p.Receipts.Header)
	}
	if w := planFromText(t, "type: webhook\nsettings:\n  url: https://hook.test\n"); w.Receipts != nil || w.SenderConfig().Tickets != nil {
		t.Error("a webhook has receipts")
	}
}
