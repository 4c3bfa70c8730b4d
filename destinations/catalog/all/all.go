// Package all registers the Go quirks of every catalog tool: importing it
// (for its side effects) makes each tool's item-error parser and
// authorizer available by the name its definition.yaml gives, so that
// destinations.Catalog loads. Each tool's quirks live in its own folder,
// destinations/catalog/<tool>/, next to its definition, README and golden
// cases; a new tool with Go code adds one line here.
package all

import (
	// Per-item error parsers.
	_ "github.com/switchyard/switchyard/destinations/catalog/amplitude"
	_ "github.com/switchyard/switchyard/destinations/catalog/braze"
	_ "github.com/switchyard/switchyard/destinations/catalog/customerio"
	_ "github.com/switchyard/switchyard/destinations/catalog/expo"
	_ "github.com/switchyard/switchyard/destinations/catalog/hubspot"
	_ "github.com/switchyard/switchyard/destinations/catalog/iterable"
	_ "github.com/switchyard/switchyard/destinations/catalog/mixpanel"
	_ "github.com/switchyard/switchyard/destinations/catalog/onesignal"

	// Authorizers.
	_ "github.com/switchyard/switchyard/destinations/catalog/apns"
	_ "github.com/switchyard/switchyard/destinations/catalog/fcm"
	_ "github.com/switchyard/switchyard/destinations/catalog/intercom"
)
