package config

// The types below are the single source for parsing, for the JSON Schema
// editors use (see schema.go) and for the config reference in docs/. Each
// field's `doc` tag describes it and `default` gives its default as written.

// Global is switchyard.yaml.
type Global struct {
	NATS     NATS     `yaml:"nats" doc:"How to reach NATS. Without url, switchyard runs an embedded nats-server with JetStream."`
	Streams  Streams  `yaml:"streams" doc:"The EVENTS, DLQ and RECEIPTS streams, created or updated at start."`
	Admin    Admin    `yaml:"admin" doc:"The admin listener: the console, /metrics, /healthz, /readyz and /debug/deliveries."`
	Log      Log      `yaml:"log" doc:"Logging."`
	Sources  []Source `yaml:"sources" doc:"Source ids collectors publish under (events.<source>.<type>). When none are listed, any valid source name is accepted."`
	Ingest   Ingest   `yaml:"ingest" doc:"The Segment-compatible HTTP Tracking API. Off by default."`
	Limits   Limits   `yaml:"limits" doc:"Bounds on every input."`
	Security Security `yaml:"security" doc:"Outbound and access safety."`
	Reload   Reload   `yaml:"reload" doc:"Hot reload of the config directory."`
	Defaults Defaults `yaml:"defaults" doc:"Defaults applied to every destination."`
}

// NATS says how to connect. With no URL an embedded server is started.
type NATS struct {
	URL         string   `yaml:"url" doc:"Comma-separated server URLs. Empty (and no SWITCHYARD_NATS_URL) starts the embedded server." example:"nats://n1:4222,nats://n2:4222"`
	Credentials string   `yaml:"credentials" doc:"Path of a NATS credentials (.creds) file."`
	NKey        string   `yaml:"nkey" doc:"Path of an nkey seed file."`
	User        string   `yaml:"user" doc:"User name for user/password auth."`
	Password    string   `yaml:"password" doc:"Password; use an ${ENV} reference."`
	Token       string   `yaml:"token" doc:"Token auth; use an ${ENV} reference."`
	TLS         TLS      `yaml:"tls" doc:"TLS to the NATS servers."`
	Embedded    Embedded `yaml:"embedded" doc:"The embedded server, used when url is empty."`
	Name        string   `yaml:"name" doc:"Client connection name." default:"switchyard"`
	// ConnectWait nil is its default; read it with ConnectWaitOrDefault.
	ConnectWait *Duration `yaml:"connect_wait" doc:"How long serve keeps trying to reach NATS at start, with backoff, while /readyz reports not ready; then it exits. 0 gives up at the first failure." default:"60s"`
}

// TLS configures a TLS client.
type TLS struct {
	CA                 string `yaml:"ca" doc:"PEM file of CAs to trust."`
	Cert               string `yaml:"cert" doc:"PEM client certificate."`
	Key                string `yaml:"key" doc:"PEM client key."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" doc:"Skip verification of the server certificate. Logged as a warning."`
}

// Embedded configures the embedded nats-server.
type Embedded struct {
	Listen      string `yaml:"listen" doc:"Client listen address." default:"127.0.0.1:4222"`
	AllowRemote bool   `yaml:"allow_remote" doc:"Allow listening beyond loopback without auth. Off: a non-loopback listen address requires a token."`
	Token       string `yaml:"token" doc:"Token clients must present; use an ${ENV} reference."`
	// SyncInterval is read by SyncPolicy.
	SyncInterval string `yaml:"sync_interval" doc:"How often the embedded JetStream flushes its files to disk (nats-server's sync_interval): always (before each write is acknowledged) or a duration. A power failure or kernel crash (not a process crash) can lose writes acknowledged within the last interval. nats-server's own default is 2m; switchyard's is 1s, measured to cost nothing against 2m where always cut publish throughput about 20 times (docs/deployment.md)." default:"1s" example:"always"`
	MaxMemory    int64  `yaml:"max_memory" doc:"Most bytes JetStream's memory-backed streams may hold (nats-server's max_memory_store). switchyard's own streams are file-backed; without a limit nats-server would allow 75% of the machine's memory. Default 256 MiB." default:"268435456"`
	MaxStore     int64  `yaml:"max_store" doc:"Most bytes JetStream may store on disk under --data (nats-server's max_file_store); writes beyond it are refused. 0: nats-server's default, 75% of the disk's free space when the server starts. Must not be below streams.max_bytes."`
}

// Streams configures the JetStream streams.
type Streams struct {
	MaxAge     Duration `yaml:"max_age" doc:"How long EVENTS keeps events (replay horizon). At least every destination's retry_window + backoff.max + 10m (docs/delivery.md)." default:"7d"`
	Duplicates Duration `yaml:"duplicates" doc:"Dedupe window on Nats-Msg-Id." default:"2m"`
	MaxBytes   int64    `yaml:"max_bytes" doc:"Size cap of EVENTS in bytes; 0 is unlimited."`
	Replicas   int      `yaml:"replicas" doc:"Stream replicas (clustered NATS)." default:"1"`
	DLQMaxAge  Duration `yaml:"dlq_max_age" doc:"How long DLQ keeps dead letters." default:"30d"`
}

// Admin configures the admin listener.
type Admin struct {
	Listen string `yaml:"listen" doc:"Listen address of the console (/), /metrics, /healthz, /readyz and /debug/." default:"127.0.0.1:8088"`
	Token  string `yaml:"token" doc:"Token the console (/ and /api/, as a bearer token or a browser sign-in's password) and /debug/ require; without it the console is read-only. Use an ${ENV} reference."`
	// AllowUnauthenticated is admin's nats.embedded.allow_remote.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated" doc:"Allow a listen address beyond loopback without a token. Off: a non-loopback listen requires token, since the console and /debug/deliveries show samples of the events delivered and failed."`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error." default:"info" enum:"debug,info,warn,error"`
	Format string `yaml:"format" doc:"text or json." default:"text" enum:"text,json"`
}

// Source is one source id.
type Source struct {
	Name      string   `yaml:"name" doc:"Source id: lowercase letters, digits, - and _."`
	WriteKeys []string `yaml:"write_keys" doc:"Write keys the HTTP intake maps to this source; use ${ENV} references."`
}

// Ingest configures the Segment-compatible HTTP intake.
type Ingest struct {
	Enabled       bool   `yaml:"enabled" doc:"Serve the Segment HTTP Tracking API."`
	Listen        string `yaml:"listen" doc:"Listen address of the intake." default:"127.0.0.1:8080"`
	MaxEventBytes int    `yaml:"max_event_bytes" doc:"Largest event accepted (Segment: 32 KB)." default:"32768"`
	MaxBatchBytes int    `yaml:"max_batch_bytes" doc:"Largest batch accepted (Segment: 500 KB)." default:"512000"`
}

// Limits bound every input.
type Limits struct {
	MaxEventBytes     int  `yaml:"max_event_bytes" doc:"Largest event the router accepts; larger ones are invalid." default:"32768"`
	MaxDepth          int  `yaml:"max_depth" doc:"Deepest JSON nesting accepted in an event." default:"32"`
	MaxProperties     int  `yaml:"max_properties" doc:"Most keys in one object (or elements in one array) of an event." default:"1000"`
	MaxExprNodes      uint `yaml:"max_expr_nodes" doc:"Largest expression accepted, in syntax nodes." default:"2000"`
	ExprMemoryBudget  uint `yaml:"expr_memory_budget" doc:"Most memory one expression evaluation may use (expr's budget units)." default:"100000"`
	MaxResponseBytes  int  `yaml:"max_response_bytes" doc:"Most bytes read from a tool's response." default:"65536"`
	MaxDLQHeaderBytes int  `yaml:"max_dlq_header_bytes" doc:"Most bytes of any one DLQ header value." default:"1024"`
}

// Security configures outbound safety.
type Security struct {
	DenyPrivateDestinations bool `yaml:"deny_private_destinations" doc:"Refuse to deliver to private, loopback and link-local addresses (shared deployments)."`
}

// Reload configures hot reload.
type Reload struct {
	Watch        *bool    `yaml:"watch" doc:"Reload when a file in the config directory changes (SIGHUP always reloads)." default:"true"`
	RemovedGrace Duration `yaml:"removed_grace" doc:"How long the consumer of a removed destination is kept, so a mistaken delete loses nothing." default:"24h"`
}

// Defaults apply to every destination unless it sets its own.
type Defaults struct {
	Delivery Delivery `yaml:"delivery" doc:"Delivery defaults."`
}

// Destination is one file in destinations/.
type Destination struct {
	Name        string            `yaml:"name" doc:"Destination name: lowercase letters, digits, - and _. Defaults to the file name."`
	Type        string            `yaml:"type" doc:"webhook, http, or a catalog tool (switchyard catalog lists them)."`
	Enabled     *bool             `yaml:"enabled" doc:"false stops delivery and keeps the consumer position." default:"true"`
	Sources     []string          `yaml:"sources" doc:"Sources this destination reads; all when omitted."`
	Aliases     []string          `yaml:"aliases" doc:"More names the integrations object may use for this destination (its name and the tool's display name always apply)."`
	Filter      string            `expr:"true" yaml:"filter" doc:"Expression; events for which it is false are counted filtered." example:"type != \"page\""`
	Consent     *Consent          `yaml:"consent" doc:"Consent this destination needs: an event carrying consent preferences reaches it only when every category is consented (docs/privacy.md#consent). Drops count filtered, reason consent."`
	Sample      *float64          `yaml:"sample" doc:"Fraction of users whose events reach this destination, from 0 to 1: the same users always, and at every destination with the same rate (a hash of userId, else anonymousId). Unset: every user. Drops count filtered, reason sample." example:"0.1"`
	AllowFields []string          `yaml:"allow_fields" doc:"Only these paths of properties, traits and context reach the destination (the spec's top-level fields always do); removed before mapping. Dotted paths, e.g. properties.plan or context.page.url."`
	BlockFields []string          `yaml:"block_fields" doc:"Paths of properties, traits and context removed before mapping, e.g. context.ip or traits.address.street."`
	Start       string            `yaml:"start" doc:"Where a new destination starts: new (default), all (everything in EVENTS), or an RFC 3339 time." default:"new"`
	Settings    map[string]any    `yaml:"settings" doc:"Tool settings; secrets as ${ENV} references."`
	Presets     []string          `yaml:"presets" doc:"Catalog presets to enable; the tool's default presets when omitted."`
	Actions     map[string]Action `yaml:"actions" doc:"Actions by name. A name equal to a preset overrides that preset's fields and trigger."`
	Delivery    Delivery          `yaml:"delivery" doc:"Delivery policy, over the global defaults."`

	// File is the file this destination came from.
	File string `yaml:"-"`
	// pos maps key paths ("settings.api_key", "actions.track.fields.time")
	// to where they are written.
	pos map[string]scalarPos
	// Expansions are the file's ${ENV} references, for redaction.
	Expansions []Expansion `yaml:"-"`
}

// Action is one action of a destination: a trigger, and the request it maps
// an event to.
type Action struct {
	Extends      string            `yaml:"extends" doc:"A preset this action starts from (copying its request and fields)."`
	Enabled      *bool             `yaml:"enabled" doc:"false turns the action (or preset) off." default:"true"`
	Trigger      string            `expr:"true" yaml:"trigger" doc:"Boolean expression over the event." example:"type == \"track\" && event == \"Order Completed\""`
	ForEach      string            `expr:"true" yaml:"foreach" doc:"Expression yielding a list: one request per element, as item." example:"products()"`
	ForEachEmpty string            `yaml:"foreach_empty" doc:"What a foreach yielding no element means: fail (dead-letter the event: it lacks what the tool needs) or skip (nothing to send: counted filtered, reason nothing_to_send). A preset's own choice applies when unset." enum:",fail,skip"`
	Method       string            `yaml:"method" doc:"HTTP method." default:"POST" enum:"GET,POST,PUT,PATCH,DELETE"`
	URL          string            `yaml:"url" doc:"URL template: text with {{ expression }} parts."`
	Headers      map[string]string `yaml:"headers" doc:"Header templates."`
	Fields       any               `expr:"true" yaml:"fields" doc:"The body: a tree whose string leaves are expressions; null removes a preset field."`
	Batch        *Batch            `yaml:"batch" doc:"Batching of this action; overrides the tool's and the destination's."`
	// Kind delete makes the action a deletion (docs/privacy.md#deletion).
	Kind            string `yaml:"kind" doc:"event (the default): the action maps events; delete: the action asks the tool to erase users when a regulation deletes them. Its expressions see users, regulation and settings (docs/privacy.md#delete-actions)." enum:",event,delete"`
	UsersPerRequest int    `yaml:"users_per_request" doc:"Delete actions: how many users one request names (the tool's documented maximum); one request per user when unset."`
}

// Consent is the consent a destination needs.
type Consent struct {
	Categories []string `yaml:"categories" doc:"Consent categories, all required: Segment's context.consent.categoryPreferences must hold each as true, RudderStack's context.consentManagement must not deny them (docs/privacy.md#consent). Case-sensitive, e.g. Marketing."`
}

// Delivery is a destination's delivery policy. Zero fields take defaults.
type Delivery struct {
	Timeout            Duration `yaml:"timeout" doc:"Timeout of one HTTP attempt." default:"10s"`
	Attempts           int      `yaml:"attempts" doc:"In-process attempts per send, the first included." default:"3"`
	MaxRetryAfter      Duration `yaml:"max_retry_after" doc:"Cap on a tool's Retry-After honoured in-process." default:"30s"`
	Backoff            Backoff  `yaml:"backoff" doc:"Redelivery backoff after in-process attempts fail."`
	RetryWindow        Duration `yaml:"retry_window" doc:"How long an event is retried, from its stream time, before it is dead-lettered. retry_window + backoff.max + 10m must not exceed streams.max_age (docs/delivery.md)." default:"4h"`
	Breaker            Breaker  `yaml:"breaker" doc:"Circuit breaker."`
	Rate               Rate     `yaml:"rate" doc:"Rate limit."`
	Batch              Batch    `yaml:"batch" doc:"Batching defaults for the destination's batching actions."`
	Ordering           string   `yaml:"ordering" doc:"user: deliver each user's events in stream order (within one router)." enum:",none,user"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify" doc:"Skip TLS verification for this destination. Logged as a warning."`
	MaxInFlight        int      `yaml:"max_in_flight" doc:"Events the lane holds at once, those waiting in a batch included; the rest waits in JetStream. Default 256, or two full batches (at most 4096) for a batching destination."`
}

// Backoff is the redelivery backoff.
type Backoff struct {
	Initial Duration `yaml:"initial" doc:"First redelivery delay." default:"10s"`
	Max     Duration `yaml:"max" doc:"Largest redelivery delay." default:"10m"`
}

// Breaker is the circuit breaker policy.
type Breaker struct {
	Failures uint32   `yaml:"failures" doc:"Consecutive failed sends that open the breaker." default:"5"`
	Cooldown Duration `yaml:"cooldown" doc:"How long the breaker stays open before a probe." default:"30s"`
}

// Rate is the rate limit.
type Rate struct {
	RPS                 float64 `yaml:"rps" doc:"Requests per second ceiling; 0 is unlimited (or the tool's documented limit)."`
	Concurrency         int     `yaml:"concurrency" doc:"Requests in flight at most (default: the tool's documented limit). With adaptive_concurrency, the most the limit may reach (default: delivery.max_in_flight); without, the fixed limit (default 16)."`
	Adaptive            *bool   `yaml:"adaptive" doc:"Halve the rate on 429 and raise it back on success." default:"true"`
	AdaptiveConcurrency *bool   `yaml:"adaptive_concurrency" doc:"Move the requests in flight with the tool's latency: raised while it holds, cut on a rise, a 429 or a 5xx, starting at 16, between 1 and concurrency (docs/delivery.md). Default: on for a destination whose actions do not batch, off for a batching one."`
}

// Batch bounds a batch.
type Batch struct {
	Disabled bool     `yaml:"disabled" doc:"Send one event per request."`
	MaxItems int      `yaml:"max_items" doc:"Most events per request."`
	MaxBytes int      `yaml:"max_bytes" doc:"Most bytes per request body."`
	Linger   Duration `yaml:"linger" doc:"Longest an event waits for its batch to fill."`
}
