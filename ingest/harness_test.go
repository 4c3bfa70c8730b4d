package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
)

// Write keys of the test sources.
const (
	keyWeb = "wk_web_123"
	keyIOS = "wk_ios_456"
)

// serverNow is the server clock of tests that pin time.
var serverNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// harness is a real nats-server with the EVENTS stream, and the intake
// served over HTTP in front of it.
type harness struct {
	t      *testing.T
	ns     *natstest.Server
	js     jetstream.JetStream
	url    string
	reg    *prometheus.Registry
	client *http.Client
}

type option func(*ingest.Options)

func withNow(now time.Time) option {
	return func(o *ingest.Options) { o.Now = func() time.Time { return now } }
}

// withRealClock lets the server use time.Now, its default.
func withRealClock() option {
	return func(o *ingest.Options) { o.Now = nil }
}

func withJetStream(js jetstream.JetStream) option {
	return func(o *ingest.Options) { o.JetStream = js }
}

func withPublishTimeout(d time.Duration) option {
	return func(o *ingest.Options) { o.PublishTimeout = d }
}

// start runs nats-server, creates EVENTS (subjects events.>, a 2 minute
// dedupe window) and serves the intake with a pinned clock.
func start(t *testing.T, opts ...option) *harness {
	t.Helper()
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	h := &harness{t: t, ns: ns, js: js, reg: prometheus.NewRegistry(), client: &http.Client{Timeout: 30 * time.Second}}
	h.createStream(jetstream.StreamConfig{})
	o := ingest.Options{
		WriteKeys: map[string]string{keyWeb: "web", keyIOS: "ios"},
		JetStream: js,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:   h.reg,
		Now:       func() time.Time { return serverNow },
	}
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := ingest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	h.url = hs.URL
	return h
}

// createStream creates EVENTS; cfg's zero fields take the test defaults.
func (h *harness) createStream(cfg jetstream.StreamConfig) {
	h.t.Helper()
	cfg.Name = "EVENTS"
	cfg.Subjects = []string{"events.>"}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A test that deleted EVENTS creates it again at once. nats-server
	// renames a deleted stream's directory and removes it in the
	// background, and a CI dry run once had the new stream's store fail
	// to be created (10049, "error creating store for stream"): that one
	// answer is retried until the deadline, any other fails the test.
	var storeFailed *jetstream.APIError
	for {
		_, err := h.js.CreateStream(ctx, cfg)
		if err == nil {
			return
		}
		if !errors.As(err, &storeFailed) || storeFailed.ErrorCode != jsErrCodeStreamStoreFailed || ctx.Err() != nil {
			h.t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("creating EVENTS: %v (still, after 10 s)", err)
		case <-time.After(poll.Interval):
		}
	}
}

// jsErrCodeStreamStoreFailed is nats-server's JSStreamStoreFailedF.
const jsErrCodeStreamStoreFailed jetstream.ErrorCode = 10049

// response is a decoded answer of the intake.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to path with the write key as Basic username ("" for no
// Authorization header) and extra headers.
func (h *harness) post(path, key string, body []byte, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

// mustPost posts and fails the test unless the answer is 200 {"success":true}.
func (h *harness) mustPost(path, key string, body []byte) {
	h.t.Helper()
	r := h.post(path, key, body)
	if r.status != http.StatusOK || r.body["success"] != true {
		h.t.Fatalf("POST %s: %d %s, want 200 {\"success\":true}", path, r.status, r.raw)
	}
}

// storedMsg is one message of EVENTS.
type storedMsg struct {
	subject string
	msgID   string
	event   map[string]any
}

// stored returns every message in EVENTS, in stream order.
func (h *harness) stored() []storedMsg {
	h.t.Helper()
	return storedIn(h.t, h.js)
}

func storedIn(t *testing.T, js jetstream.JetStream) []storedMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []storedMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get seq %d: %v", seq, err)
		}
		var ev map[string]any
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("seq %d is not JSON: %v: %s", seq, err, m.Data)
		}
		out = append(out, storedMsg{subject: m.Subject, msgID: m.Header.Get(jetstream.MsgIDHeader), event: ev})
	}
	return out
}

// counter reads a counter of the harness registry; 0 when absent.
func (h *harness) counter(name string, labels map[string]string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// js marshals v, failing the test on error.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
