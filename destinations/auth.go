package destinations

import (
	"context"
	"fmt"
)

// Authorizer adds credentials a tool needs that a header template cannot
// express, such as an OAuth access token minted from a service account
// (FCM). It is called before each send, and must cache what it mints.
type Authorizer interface {
	Authorize(ctx context.Context, r *Request) error
}

// AnswerReader is an Authorizer that reads the tool's answer to each
// request it authorized, so that a credential the tool refused as expired
// (APNs' 403 ExpiredProviderToken) is minted again for the retry instead of
// reused. Answer must be cheap and must not block: it runs on the delivery
// path, after every send.
type AnswerReader interface {
	Answer(r *Request, res Result)
}

// PrivateDenier is an Authorizer that makes requests of its own (to a token
// endpoint named in its settings). DenyPrivate subjects them to the check
// of SenderConfig.DenyPrivate: private addresses refused, no proxies.
type PrivateDenier interface {
	DenyPrivate()
}

// AuthFactory builds a destination's Authorizer from its settings. An error
// is a configuration error (a malformed key, say), reported by validate.
type AuthFactory func(settings map[string]any) (Authorizer, error)

var authTypes = newRegistry[AuthFactory]("auth")

// RegisterAuth names an AuthFactory; a definition selects it with `auth:`.
func RegisterAuth(name string, f AuthFactory) {
	if f == nil {
		panic("destinations: RegisterAuth needs a factory")
	}
	authTypes.register(name, f)
}

// AuthFor returns the factory registered as name.
func AuthFor(name string) (AuthFactory, error) {
	f, ok := authTypes.get(name)
	if !ok {
		return nil, fmt.Errorf("unknown auth %q (registered: %v)", name, authTypes.names())
	}
	return f, nil
}
