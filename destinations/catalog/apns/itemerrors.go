package apns

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

func init() {
	destinations.RegisterItemErrors("apns", ItemErrors)
}

// ExpiredProviderToken is Apple's reason for a provider token it judges
// older than an hour: the push is retried, with a new token (TokenAuth.Answer).
const ExpiredProviderToken = "ExpiredProviderToken"

// reasons says what to do about each of Apple's error reasons
// (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns,
// "Understand error codes"); a reason not listed keeps its status's class.
var reasons = map[string]struct {
	class  destinations.Class
	advice string
}{
	"Unregistered":               {destinations.Permanent, "the device token is no longer active for the topic (the app was uninstalled or push turned off): stop sending to it"},
	"ExpiredToken":               {destinations.Permanent, "the device token has expired: stop sending to it"},
	"BadDeviceToken":             {destinations.Permanent, "the device token is malformed, or of the other environment (a development token sent to production, or the reverse)"},
	"DeviceTokenNotForTopic":     {destinations.Permanent, "the device token does not belong to the topic (bundle id) setting"},
	"TopicDisallowed":            {destinations.Permanent, "the key may not push to this topic"},
	"BadTopic":                   {destinations.Permanent, "the topic setting is not a bundle id the key may push to"},
	"MissingTopic":               {destinations.Permanent, "the topic setting is empty"},
	"PayloadTooLarge":            {destinations.Permanent, "the payload is over Apple's 4,096 bytes"},
	"PayloadEmpty":               {destinations.Permanent, "the payload is empty"},
	"InvalidPushType":            {destinations.Permanent, "the push_type setting is not one Apple accepts for this payload"},
	"BadCollapseId":              {destinations.Permanent, "apns-collapse-id is over 64 bytes"},
	"BadExpirationDate":          {destinations.Permanent, "apns-expiration is not a valid time"},
	"BadPriority":                {destinations.Permanent, "apns-priority is not 1, 5 or 10"},
	"InvalidProviderToken":       {destinations.Permanent, "the provider token is not valid: check key, key_id and team_id"},
	"MissingProviderToken":       {destinations.Permanent, "no provider token was sent: check the key setting"},
	"BadEnvironmentKeyIdInToken": {destinations.Permanent, "the key is not enabled for this environment (production or development)"},
	"UnrelatedKeyIdInToken":      {destinations.Permanent, "key_id does not belong to team_id"},
	ExpiredProviderToken:         {destinations.Retryable, "the provider token is over an hour old by Apple's clock: a new one is signed and the push retried (if this repeats, the host's clock is behind)"},
	"IdleTimeout":                {destinations.Retryable, "the connection was idle too long; retried"},
}

// ItemErrors reads APNs' answer to one notification request (every APNs
// request is one device's notification): a 4xx with a JSON body whose
// reason names the error, plus, for 410, the time Apple learned the token
// was no longer valid. The reason and what to do about it become the
// dead letter's reason ("HTTP 410 Gone: Unregistered ..."), and a reason
// Apple documents as passing (ExpiredProviderToken, IdleTimeout) is
// retried instead of dead-lettered. 2xx, and bodies without a reason,
// name nothing: the status stands.
func ItemErrors(status int, body []byte, items int) []destinations.ItemError {
	if status < 400 || status > 499 || items < 1 {
		return nil
	}
	var answer struct {
		Reason    string `json:"reason"`
		Timestamp *int64 `json:"timestamp"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.Reason == "" {
		return nil
	}
	class := destinations.Classify(status)
	msg := answer.Reason
	if r, ok := reasons[answer.Reason]; ok {
		class = r.class
		msg += ": " + r.advice
	}
	if status == http.StatusGone && answer.Timestamp != nil {
		msg += " (since " + time.UnixMilli(*answer.Timestamp).UTC().Format(time.RFC3339) + ")"
	}
	return destinations.AllItemsFail(items, class, status, msg)
}
