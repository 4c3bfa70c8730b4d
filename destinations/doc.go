// Package destinations delivers requests to tools, and holds the catalog of
// tool definitions.
//
// Delivery is a Sender per destination: a rate limiter (adaptive on 429), a
// circuit breaker (sony/gobreaker/v2) around the whole send, and a small
// number of in-process attempts (hashicorp/go-retryablehttp) with jitter and a
// capped Retry-After. Every response is classified as docs/delivery.md says: 2xx
// succeeded; 408, 423, 429, 5xx except 501, timeouts and connection errors are
// retryable; other 4xx are permanent, unless the tool's item-error parser
// reads the answer otherwise (per item of a batch, or for a single request:
// the tool's reason joins the error, and a reason the tool documents as
// passing is retryable). A Batcher groups items per action by count, bytes
// and linger, and splits per-item failures back to their items.
//
// The catalog is data: one folder per tool under catalog/, holding a
// definition.yaml (settings, endpoints, auth, batching, rate limits and preset
// actions), a README and golden testdata. Go code appears only where a tool's
// API needs it, such as parsing per-item errors or minting credentials; it
// lives in the tool's folder as a package of its own that registers itself
// (RegisterItemErrors or RegisterItemErrorMatcher, RegisterAuth) by the name the definition gives, and
// destinations/catalog/all links every tool. Loading the catalog fails on a
// name nothing registered.
//
// It imports nothing else from switchyard.
package destinations
