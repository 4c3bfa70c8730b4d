package regulations

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names in JetStream.
const (
	// Bucket is the key-value bucket of regulations, their status and the
	// suppressions in force (its stream is KV_REGULATIONS).
	Bucket = "REGULATIONS"
	// TasksStream is the work queue of deletions: one message per
	// regulation and destination, on TaskSubject(destination), taken by
	// one router (consumer TasksConsumer) and acked when done.
	TasksStream   = "REGULATION_TASKS"
	TasksConsumer = "regulations_delete"
)

// Keys of the bucket: r.<id> a regulation, s.<id>.<destination> its
// deletion's status there, u.<b64 userId> and a.<b64 anonymousId> the
// suppression of a user (base64url without padding: any id is a valid
// key).
func regKey(id string) string          { return "r." + id }
func statusKey(id, dest string) string { return "s." + id + "." + dest }
func userKey(id string) string         { return "u." + base64.RawURLEncoding.EncodeToString([]byte(id)) }
func anonKey(id string) string         { return "a." + base64.RawURLEncoding.EncodeToString([]byte(id)) }

// TaskSubject is the subject of a destination's deletion tasks.
func TaskSubject(dest string) string { return "regulations.delete." + dest }

// Task is one deletion task: a regulation to run at the destination its
// subject names.
type Task struct {
	Regulation string `json:"regulation"`
}

// Store records regulations in JetStream.
type Store struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

// Options tune Open.
type Options struct {
	// Replicas of the bucket and the task stream (streams.replicas).
	Replicas int
}

// Open creates or binds the bucket and the task stream.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	replicas := max(o.Replicas, 1)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Privacy regulations, their status and the suppressions in force (switchyard)",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", Bucket, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        TasksStream,
		Description: "Deletions to run, one per regulation and destination (switchyard)",
		Subjects:    []string{"regulations.delete.*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Duplicates:  10 * time.Minute,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", TasksStream, err)
	}
	return &Store{js: js, kv: kv}, nil
}

// KV is the bucket (the Index watches it).
func (s *Store) KV() jetstream.KeyValue { return s.kv }

// ErrNotFound: no regulation has that id.
var ErrNotFound = errors.New("no such regulation")

// Get reads one regulation.
func (s *Store) Get(ctx context.Context, id string) (*Regulation, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q is not a regulation id", ErrNotFound, id)
	}
	e, err := s.kv.Get(ctx, regKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading regulation %s: %w", id, err)
	}
	var r Regulation
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("regulation %s: %w", id, err)
	}
	return &r, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Report reads a regulation with its destinations' status.
func (s *Store) Report(ctx context.Context, id string) (Report, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	ds, err := s.statuses(ctx, r)
	if err != nil {
		return Report{}, err
	}
	return NewReport(r, ds), nil
}

// List reads every regulation with its status, newest first, at most
// limit (0: all).
func (s *Store) List(ctx context.Context, limit int) ([]Report, error) {
	ids, err := s.keys(ctx, "r.*")
	if err != nil {
		return nil, err
	}
	for i := range ids {
		ids[i] = strings.TrimPrefix(ids[i], "r.")
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Report, 0, len(ids))
	for _, id := range ids {
		rep, err := s.Report(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	return out, nil
}

// keys lists the keys matching a filter; none is not an error. It reads
// the bucket stream's subjects from the server, one answer computed from
// its subject index: a key listing (a consumer walking the last message of
// each key) misses keys that are rewritten while it walks. A deleted key
// may still be listed: reading it finds nothing.
func (s *Store) keys(ctx context.Context, filter string) ([]string, error) {
	prefix := "$KV." + s.kv.Bucket() + "."
	st, err := s.js.Stream(ctx, "KV_"+s.kv.Bucket())
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filter, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+filter))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filter, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		out = append(out, strings.TrimPrefix(subj, prefix))
	}
	sort.Strings(out)
	return out, nil
}

func (s *Store) statuses(ctx context.Context, r *Regulation) ([]DestStatus, error) {
	var keys []string
	if len(r.Scope) > 0 {
		for _, d := range r.Scope {
			keys = append(keys, statusKey(r.ID, d))
		}
	} else {
		// Recorded before regulations named their scope.
		var err error
		if keys, err = s.keys(ctx, "s."+r.ID+".*"); err != nil {
			return nil, err
		}
	}
	out := make([]DestStatus, 0, len(keys))
	for _, k := range keys {
		st, _, err := s.status(ctx, k)
		if err != nil {
			return nil, err
		}
		if st != nil {
			out = append(out, *st)
		}
	}
	return out, nil
}

func (s *Store) status(ctx context.Context, key string) (*DestStatus, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", key, err)
	}
	var st DestStatus
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", key, err)
	}
	return &st, e.Revision(), nil
}

// Status reads a deletion's status at one destination (nil when there is
// none).
func (s *Store) Status(ctx context.Context, id, dest string) (*DestStatus, error) {
	st, _, err := s.status(ctx, statusKey(id, dest))
	return st, err
}

// SetStatus records a deletion's status at one destination. A final state
// is never replaced (a redelivered task cannot undo a finished deletion).
func (s *Store) SetStatus(ctx context.Context, id string, st DestStatus) error {
	key := statusKey(id, st.Destination)
	st.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for range 10 {
		old, rev, err := s.status(ctx, key)
		if err != nil {
			return err
		}
		if old != nil && old.State.Done() {
			return nil
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, b)
		} else {
			_, err = s.kv.Update(ctx, key, b, rev)
		}
		if err == nil || !(errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)) {
			return err
		}
	}
	return fmt.Errorf("status %s: too many concurrent updates", key)
}

// Scope is what Submit needs to know of a destination in the regulation's
// scope: why it cannot delete ("" when it can).
type Scope struct {
	Destination string
	Unsupported string
}

// Submit records a regulation: the record, then its suppressions (for
// suppress types, every user's, then the record marks them applied), then
// for a deletion the status of each destination of scope and one task per
// destination that can delete. The regulation is filled with its id and
// creation time. An error midway leaves what was recorded: the report
// says which part is missing, and submitting again is safe.
func (s *Store) Submit(ctx context.Context, r *Regulation, scope []Scope) error {
	if err := r.Check(); err != nil {
		return err
	}
	now := time.Now().UTC()
	r.ID, r.CreatedAt, r.Applied, r.Scope = NewID(now), now, nil, nil
	if r.Type.Deletes() {
		for _, sc := range scope {
			r.Scope = append(r.Scope, sc.Destination)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(b) > MaxRecordBytes {
		return fmt.Errorf("%w: %d bytes to record, over %d: name fewer users per regulation", ErrRefused, len(b), MaxRecordBytes)
	}
	if _, err := s.kv.Create(ctx, regKey(r.ID), b); err != nil {
		return fmt.Errorf("recording regulation %s: %w", r.ID, err)
	}
	if r.Type.Suppresses() {
		for _, u := range r.Users {
			for _, key := range subjectKeys(u.UserID, u.AnonymousID) {
				if err := s.suppress(ctx, key, r); err != nil {
					return fmt.Errorf("regulation %s: %w", r.ID, err)
				}
			}
		}
		at := time.Now().UTC()
		r.Applied = &at
		if b, err = json.Marshal(r); err == nil {
			_, err = s.kv.Put(ctx, regKey(r.ID), b)
		}
		if err != nil {
			return fmt.Errorf("regulation %s: marking its suppressions applied: %w", r.ID, err)
		}
	}
	if !r.Type.Deletes() {
		return nil
	}
	for _, sc := range scope {
		st := DestStatus{Destination: sc.Destination, State: Pending}
		if sc.Unsupported != "" {
			st.State, st.Detail = NotSupported, sc.Unsupported
		}
		if err := s.SetStatus(ctx, r.ID, st); err != nil {
			return fmt.Errorf("regulation %s: status at %s: %w", r.ID, sc.Destination, err)
		}
		if sc.Unsupported != "" {
			continue
		}
		data, _ := json.Marshal(Task{Regulation: r.ID})
		m := nats.NewMsg(TaskSubject(sc.Destination))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, r.ID+"."+sc.Destination)
		if _, err := s.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("regulation %s: queuing the deletion at %s: %w", r.ID, sc.Destination, err)
		}
	}
	return nil
}

// subjectKeys are the keys of a user's suppression.
func subjectKeys(userID, anonymousID string) []string {
	var keys []string
	if userID != "" {
		keys = append(keys, userKey(userID))
	}
	if anonymousID != "" {
		keys = append(keys, anonKey(anonymousID))
	}
	return keys
}

// suppress applies a regulation to one subject's suppression, with
// compare-and-set: two regulations of the same user never lose one.
func (s *Store) suppress(ctx context.Context, key string, r *Regulation) error {
	for range 20 {
		var old *Suppression
		var rev uint64
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("reading %s: %w", key, err)
		default:
			rev = e.Revision()
			old = &Suppression{}
			if err := json.Unmarshal(e.Value(), old); err != nil {
				old = nil // unreadable: replaced
			}
		}
		next := old.apply(r)
		switch {
		case next.empty() && rev == 0:
			return nil
		case next.empty():
			err = s.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		default:
			b, _ := json.Marshal(next)
			if rev == 0 {
				_, err = s.kv.Create(ctx, key, b)
			} else {
				_, err = s.kv.Update(ctx, key, b, rev)
			}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("recording the suppression: %w", err)
		}
	}
	return fmt.Errorf("recording the suppression: too many concurrent updates of the same user")
}

// Suppression is the suppression of one user (one userId or anonymousId):
// at every destination but Except, or at Only.
type Suppression struct {
	All    bool     `json:"all,omitempty"`
	Except []string `json:"except,omitempty"`
	Only   []string `json:"only,omitempty"`
	// Regulation is the last regulation that changed it.
	Regulation string `json:"regulation"`
}

// apply is the suppression after r: suppress adds its scope, unsuppress
// removes it (an unsuppress of every destination lifts everything).
func (s *Suppression) apply(r *Regulation) *Suppression {
	out := &Suppression{Regulation: r.ID}
	if s != nil {
		out.All, out.Except, out.Only = s.All, slices.Clone(s.Except), slices.Clone(s.Only)
	}
	scope := r.Destinations
	switch r.Type {
	case Suppress, SuppressWithDelete:
		switch {
		case len(scope) == 0:
			out.All, out.Except, out.Only = true, nil, nil
		case out.All:
			out.Except = without(out.Except, scope)
		default:
			out.Only = union(out.Only, scope)
		}
	case Unsuppress:
		switch {
		case len(scope) == 0:
			out.All, out.Except, out.Only = false, nil, nil
		case out.All:
			out.Except = union(out.Except, scope)
		default:
			out.Only = without(out.Only, scope)
		}
	}
	return out
}

func (s *Suppression) empty() bool { return !s.All && len(s.Only) == 0 }

// At reports whether the suppression covers a destination.
func (s *Suppression) At(dest string) bool {
	if s.All {
		return !slices.Contains(s.Except, dest)
	}
	return slices.Contains(s.Only, dest)
}

// Everywhere reports whether it covers every destination.
func (s *Suppression) Everywhere() bool { return s.All && len(s.Except) == 0 }

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
