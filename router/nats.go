package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// Stream names (pinned).
const (
	EventsStream = "EVENTS"
	DLQStream    = "DLQ"
)

// ConsumerName is a destination's durable consumer (pinned).
func ConsumerName(dest string) string { return "dest_" + dest }

// DefaultEmbeddedListen is where the embedded server listens (pinned).
const DefaultEmbeddedListen = "127.0.0.1:4222"

// NATSURL returns the servers to join: SWITCHYARD_NATS_URL wins over
// nats.url. Empty means run the embedded server.
func NATSURL(cfg *config.Config) string {
	if u := os.Getenv("SWITCHYARD_NATS_URL"); u != "" {
		return u
	}
	return cfg.Global.NATS.URL
}

// StartEmbedded runs a nats-server with JetStream storing under dataDir.
// Its warnings and errors go to log (notices at debug): a full disk or a
// JetStream that disabled itself is in the router's own log. onError, when
// set, also gets each of its error lines (the router learns from them that
// writes fail).
func StartEmbedded(cfg config.Embedded, dataDir string, log *slog.Logger, onError func(error)) (*server.Server, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultEmbeddedListen
	}
	host, portS, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("nats.embedded.listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, fmt.Errorf("nats.embedded.listen %q: bad port", listen)
	}
	store := filepath.Join(dataDir, "jetstream")
	if err := os.MkdirAll(store, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	always, interval := cfg.SyncPolicy()
	opts := &server.Options{
		ServerName:         "switchyard",
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           store,
		JetStreamMaxMemory: cfg.MaxMemoryOrDefault(),
		JetStreamMaxStore:  cfg.MaxStore, // 0: nats-server's default, 75% of the free disk
		SyncAlways:         always,
		SyncInterval:       interval, // 0: nats-server's default, 2m
		NoSigs:             true,
	}
	if cfg.Token != "" {
		opts.Authorization = cfg.Token
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if log != nil {
		s.SetLoggerV2(serverLog{l: log.With("component", "nats-server"), onError: onError}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start on %s: is the port taken (another switchyard or nats-server)? Set nats.embedded.listen, or nats.url to join a running server", listen)
	}
	return s, nil
}

// serverLog passes the embedded server's log lines to slog.
type serverLog struct {
	l       *slog.Logger
	onError func(error)
}

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any)  { s.error(format, v...) }
func (s serverLog) Errorf(format string, v ...any)  { s.error(format, v...) }

func (s serverLog) error(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.l.Error(msg)
	if s.onError != nil {
		s.onError(errors.New(msg))
	}
}
func (s serverLog) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Tracef(string, ...any)          {}

var _ server.Logger = serverLog{}

// Connect joins NATS with the config's credentials and TLS, once: see
// ConnectWaiting to wait for a NATS that is not up yet. more options are
// applied last.
func Connect(cfg config.NATS, url string, more ...nats.Option) (*nats.Conn, error) {
	name := cfg.Name
	if name == "" {
		name = "switchyard"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		// Exponential from 250ms to 5s, jittered: a NATS that comes up late
		// (or comes back) is joined promptly without a storm of attempts.
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := 250 * time.Millisecond << min(attempts, 5)
			return min(d, 5*time.Second) + time.Duration(rand.Int64N(int64(100*time.Millisecond)))
		}),
		nats.RetryOnFailedConnect(false),
	}
	if cfg.Credentials != "" {
		opts = append(opts, nats.UserCredentials(cfg.Credentials))
	}
	if cfg.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if t := cfg.TLS; t.CA != "" || t.Cert != "" || t.InsecureSkipVerify {
		if t.CA != "" {
			opts = append(opts, nats.RootCAs(t.CA))
		}
		if t.Cert != "" {
			opts = append(opts, nats.ClientCert(t.Cert, t.Key))
		}
		if t.InsecureSkipVerify {
			opts = append(opts, nats.Secure(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // operator's explicit choice, logged
		}
	}
	nc, err := nats.Connect(url, append(opts, more...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redactURL(url), err)
	}
	return nc, nil
}

// ConnectWaiting joins NATS, trying again with backoff while no server is
// reachable, for at most wait: a NATS that comes up a little after the
// router is joined. Other errors (credentials refused, a bad TLS file) end
// it at once, as they will not mend by waiting. onWait is called once
// when the first attempt fails and waiting begins.
func ConnectWaiting(ctx context.Context, cfg config.NATS, url string, wait time.Duration, onWait func(error)) (*nats.Conn, error) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		nc, err := Connect(cfg, url)
		if err == nil || !errors.Is(err, nats.ErrNoServers) || time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil && errors.Is(err, nats.ErrNoServers) && wait > 0 {
				err = fmt.Errorf("%w (waited nats.connect_wait, %s)", err, wait)
			}
			return nc, err
		}
		if attempt == 0 && onWait != nil {
			onWait(err)
		}
		t := time.NewTimer(min(delay, time.Until(deadline)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// redactURL hides credentials in nats://user:pass@host URLs.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + plan.Redacted + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// defaultMaxAge is how long EVENTS keeps events when streams.max_age is
// not set.
const defaultMaxAge = 7 * 24 * time.Hour

// EnsureStreams creates or updates EVENTS, DLQ and RECEIPTS.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, s config.Streams) error {
	replicas := max(s.Replicas, 1)
	events := jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "Segment-spec events from collectors (switchyard)",
		Subjects:    []string{"events.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge.Or(defaultMaxAge),
		Duplicates:  s.Duplicates.Or(2 * time.Minute),
		MaxBytes:    orUnlimited(s.MaxBytes),
		Replicas:    replicas,
	}
	dlq := jetstream.StreamConfig{
		Name:        DLQStream,
		Description: "Dead letters per destination: dlq.<destination> (switchyard)",
		Subjects:    []string{"dlq.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      s.DLQMaxAge.Or(30 * 24 * time.Hour),
		// Long enough that the lanes of several routers, and a lane lagging
		// behind another, write a shared (invalid) entry once.
		Duplicates: 10 * time.Minute,
		Replicas:   replicas,
	}
	for _, sc := range []jetstream.StreamConfig{events, dlq, receiptsStreamConfig(replicas)} {
		if err := retryJS(ctx, func(ctx context.Context) error { return ensureStream(ctx, js, sc) }); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// ensureStream creates sc, or updates the stream when its settings differ
// from sc. A stream already as sc says is left alone: every reload ensures
// the streams, and updating an unchanged stream is not only wasted work:
// nats-server v2.15.2 rewrites the file store's config on every update,
// which -race reported racing a consumer being created on the same stream
// (a reload meeting a lane that starts on its consumer).
func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	st, err := js.Stream(ctx, sc.Name)
	if err == nil && sameStreamSettings(st.CachedInfo().Config, sc) {
		return nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err = js.CreateOrUpdateStream(ctx, sc)
	return err
}

// sameStreamSettings compares the settings EnsureStreams sets; the server
// fills in the others (it says -1 for an unset MaxBytes, and 1 replica).
func sameStreamSettings(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Retention == want.Retention && have.Discard == want.Discard &&
		have.MaxAge == want.MaxAge && have.Duplicates == want.Duplicates && orUnlimited(have.MaxBytes) == orUnlimited(want.MaxBytes) &&
		max(have.Replicas, 1) == max(want.Replicas, 1)
}

// retryJS runs a JetStream API call with a bounded wait per attempt, again
// until ctx ends (or a minute passes when it has no deadline). A clustered
// JetStream electing a leader answers late or not at all for a while; one
// lost reply must not hang a start, nor fail it.
func retryJS(ctx context.Context, call func(context.Context) error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := call(actx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Until(deadline) < time.Second || !transientJS(err) {
			return err
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// transientJS reports errors a retry may cure: timeouts, no responders,
// and JetStream saying it is not ready yet.
func transientJS(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503s: "JetStream system temporarily unavailable", no suitable
		// peers yet, no leader.
		return apiErr.Code == 503 || apiErr.Code == 500
	}
	return false
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// FilterSubjects are the subjects a destination reads.
func FilterSubjects(sources []string) []string {
	if len(sources) == 0 {
		return []string{"events.>"}
	}
	out := make([]string, len(sources))
	for i, s := range sources {
		out[i] = "events." + s + ".>"
	}
	return out
}

// consumerConfig is a destination's durable consumer. An existing consumer
// keeps where it started; only what may change is updated.
func consumerConfig(p *plan.Plan, existing *jetstream.ConsumerInfo) (jetstream.ConsumerConfig, error) {
	cc := jetstream.ConsumerConfig{
		Durable:       ConsumerName(p.Name),
		Description:   "switchyard destination " + p.Name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 20_000,
		MaxWaiting:    512,
	}
	subjects := FilterSubjects(p.Sources)
	if len(subjects) == 1 {
		cc.FilterSubject = subjects[0]
	} else {
		cc.FilterSubjects = subjects
	}
	if existing != nil {
		cc.DeliverPolicy = existing.Config.DeliverPolicy
		cc.OptStartSeq = existing.Config.OptStartSeq
		cc.OptStartTime = existing.Config.OptStartTime
		cc.MaxAckPending = existing.Config.MaxAckPending
		cc.Replicas = existing.Config.Replicas
		return cc, nil
	}
	start, err := config.ParseStart(p.Config.Start)
	if err != nil {
		return cc, err
	}
	switch {
	case start.All:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	case !start.Time.IsZero():
		cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := start.Time
		cc.OptStartTime = &t
	default:
		cc.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	return cc, nil
}

// ensureConsumer creates the destination's consumer, or updates its filter
// (and clears a removal grace period) when it exists.
func (r *Router) ensureConsumer(ctx context.Context, p *plan.Plan) (jetstream.Consumer, error) {
	var existing *jetstream.ConsumerInfo
	var c jetstream.Consumer
	err := retryJS(ctx, func(ctx context.Context) error {
		var err error
		c, err = r.js.Consumer(ctx, EventsStream, ConsumerName(p.Name))
		return err
	})
	switch {
	case err == nil:
		existing = c.CachedInfo()
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	default:
		return nil, fmt.Errorf("consumer %s: %w", ConsumerName(p.Name), err)
	}
	cc, err := consumerConfig(p, existing)
	if err != nil {
		return nil, err
	}
	err = retryJS(ctx, func(ctx context.Context) error {
		var err error
		if existing == nil {
			// CreateOrUpdate: a retry after a lost reply finds it created.
			c, err = r.js.CreateOrUpdateConsumer(ctx, EventsStream, cc)
		} else {
			c, err = r.js.UpdateConsumer(ctx, EventsStream, cc)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ConsumerName(p.Name), err)
	}
	return c, nil
}

// retireConsumer marks a removed destination's consumer for deletion after
// the grace period of inactivity: JetStream deletes it then, even across
// restarts, and a destination re-added in time resumes where it was.
func (r *Router) retireConsumer(ctx context.Context, name string, grace time.Duration) error {
	c, err := r.js.Consumer(ctx, EventsStream, ConsumerName(name))
	if err != nil {
		return err
	}
	cc := c.CachedInfo().Config
	cc.InactiveThreshold = grace
	_, err = r.js.UpdateConsumer(ctx, EventsStream, cc)
	return err
}
