package main

import (
	"fmt"
	"strings"
)

// builtin describes a type the router implements itself rather than from
// a catalog definition. What it says follows router/plan.go (the settings
// it accepts) and config/schema.go (the editor schema's wording); the
// catalog test checks both stay in step with `switchyard catalog`.
type builtin struct {
	Name, Title, Summary string
	Description          string
	Settings             [][4]string // name, required, format, description
	Actions              string
	Example              string
}

var builtinTypes = []builtin{
	{
		Name:    "webhook",
		Title:   "Webhook",
		Summary: "forward events as they came, or map them with actions; Standard Webhooks signing",
		Description: `Without actions, each event is POSTed to settings.url as it came (the
Segment JSON the collector published), with Content-Type: application/json and
webhook-id set to its messageId. With delivery.batch.max_items set, events go
as a JSON array of up to that many. With settings.secret, every request is
signed as a Standard Webhook (https://www.standardwebhooks.com/): webhook-id,
webhook-timestamp and webhook-signature headers. With actions, each matching
action's fields tree is the body, posted to the action's url or the webhook's.`,
		Settings: [][4]string{
			{"url", "yes", "url", "Where events are POSTed; an action's url overrides it."},
			{"headers", "no", "map of strings", "Headers sent with every request; values may hold ${ENV} references (credentials should)."},
			{"secret", "no", "secret: ${ENV} reference", "Standard Webhooks signing secret, whsec_ followed by base64."},
		},
		Actions: "optional: without actions every event is forwarded as is",
		Example: `type: webhook
sources: [web]
filter: type != "page"
settings:
  url: https://hooks.example.com/segment
  secret: ${WAREHOUSE_HOOK_SECRET}`,
	},
	{
		Name:    "http",
		Title:   "HTTP",
		Summary: "actions give method, URL, headers and body: any tool not in the catalog",
		Description: `Each action is a request of your own design: a trigger (an expression over the
event), a method, a URL and headers ({{ expression }} templates), and fields
(the JSON body: a tree whose string leaves are expressions). foreach turns one
event into one request per list element (item, index). Settings are
free-form: each is available to expressions and templates as settings.<key>.
See docs/mapping.md and docs/helpers.md.`,
		Settings: [][4]string{
			{"any key", "no", "any", "Free-form; read as settings.<key>. Put secrets here as ${ENV} references."},
		},
		Actions: "required: each needs a url, and fields unless its method is GET or DELETE",
		Example: `type: http
sources: [web]
settings:
  api_key: ${CRM_API_KEY}
actions:
  profile:
    trigger: type == "identify"
    method: PUT
    url: https://crm.example.com/profiles/{{ userIdOrAnonymousId() }}
    headers:
      Authorization: Bearer {{ settings.api_key }}
    fields:
      email: email()
      first_name: firstName()`,
	},
}

func builtinTypeNames() []string {
	names := make([]string, len(builtinTypes))
	for i, b := range builtinTypes {
		names[i] = b.Name
	}
	return names
}

func builtinType(name string) (builtin, bool) {
	for _, b := range builtinTypes {
		if b.Name == name {
			return b, true
		}
	}
	return builtin{}, false
}

// Markdown describes the type as `switchyard catalog TOOL` describes a
// catalog tool: heading, description, settings table, actions.
func (b builtin) Markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "## %s (`type: %s`, built in)\n\n%s\n\n", b.Title, b.Name, b.Description)
	s.WriteString("### Settings\n\n| setting | required | format | description |\n| --- | --- | --- | --- |\n")
	for _, row := range b.Settings {
		fmt.Fprintf(&s, "| `%s` | %s | %s | %s |\n", row[0], row[1], row[2], row[3])
	}
	fmt.Fprintf(&s, "\n### Actions\n\n%s. Keys of actions.<name>: trigger, foreach, method (default POST),\nurl, headers, fields, batch, enabled (docs/configuration.md).\n", capitalize(b.Actions))
	fmt.Fprintf(&s, "\n### Example\n\n```yaml\n%s\n```\n", b.Example)
	return s.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
