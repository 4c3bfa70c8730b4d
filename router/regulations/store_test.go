package regulations_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

func openStore(t *testing.T) (*regulations.Store, *natstest.Server) {
	t.Helper()
	s := natstest.Start(t)
	_, js := s.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := regulations.Open(ctx, js, regulations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

func submit(t *testing.T, st *regulations.Store, typ regulations.Type, dests []string, users ...plan.User) *regulations.Regulation {
	t.Helper()
	r := &regulations.Regulation{Type: typ, Users: users, Destinations: dests, RequestedBy: "test"}
	if err := st.Submit(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	poll.Until(t, within, cond, msg)
}

// Suppressions add up, unsuppress removes what it names, and every index
// watching the bucket follows within moments; one started later reads
// them all before it answers.
func TestSuppressionsReachEveryIndex(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	a, err := regulations.Watch(ctx, st.KV())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if _, ok := a.Suppressed("braze", "u-1", ""); ok {
		t.Fatal("suppressed before any regulation")
	}
	r1 := submit(t, st, regulations.Suppress, []string{"braze"}, plan.User{UserID: "u-1", AnonymousID: "a-1"})
	submit(t, st, regulations.Suppress, []string{"amplitude"}, plan.User{UserID: "u-1"})
	waitFor(t, 5*time.Second, func() bool {
		_, b := a.Suppressed("braze", "u-1", "")
		_, m := a.Suppressed("amplitude", "u-1", "")
		return b && m
	}, func() string { return "the index did not see both suppressions" })
	if id, ok := a.Suppressed("braze", "", "a-1"); !ok || id != r1.ID {
		t.Errorf("by anonymousId: %q %v, want %s", id, ok, r1.ID)
	}
	if _, ok := a.Suppressed("slack", "u-1", ""); ok {
		t.Error("suppressed outside its scope")
	}
	if a.SuppressedEverywhere("u-1", "") {
		t.Error("a scoped suppression counted as everywhere")
	}
	submit(t, st, regulations.Suppress, nil, plan.User{UserID: "u-2"})
	submit(t, st, regulations.Unsuppress, []string{"slack"}, plan.User{UserID: "u-2"})
	submit(t, st, regulations.Unsuppress, []string{"braze"}, plan.User{UserID: "u-1"})
	waitFor(t, 5*time.Second, func() bool {
		_, b := a.Suppressed("braze", "u-1", "")
		_, s := a.Suppressed("slack", "u-2", "")
		_, x := a.Suppressed("anything", "u-2", "")
		return !b && !s && x
	}, func() string { return "the index did not follow the unsuppressions" })
	if _, ok := a.Suppressed("amplitude", "u-1", ""); !ok {
		t.Error("unsuppress at braze lifted amplitude's")
	}
	if a.SuppressedEverywhere("u-2", "") {
		t.Error("u-2 is unsuppressed at slack, so not everywhere")
	}
	submit(t, st, regulations.Suppress, nil, plan.User{UserID: "u-3"})
	// The first index follows within moments, not at once: b's count is
	// compared with a's once a has it (a CI run compared them before a had
	// seen u-3: 4 ids against 3).
	waitFor(t, 5*time.Second, func() bool { return a.SuppressedEverywhere("u-3", "") },
		func() string { return "the first index did not see u-3's suppression" })
	b, err := regulations.Watch(ctx, st.KV())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	// No wait: Watch returns once it holds what the bucket holds.
	if !b.SuppressedEverywhere("u-3", "") || b.Len() != a.Len() {
		t.Errorf("a new index: u-3 everywhere %v, %d ids (the first has %d)", b.SuppressedEverywhere("u-3", ""), b.Len(), a.Len())
	}
	submit(t, st, regulations.Unsuppress, nil, plan.User{UserID: "u-3"}, plan.User{UserID: "u-1"})
	waitFor(t, 5*time.Second, func() bool {
		_, x := b.Suppressed("amplitude", "u-1", "")
		return !b.SuppressedEverywhere("u-3", "") && !x
	}, func() string { return "an unsuppress of every destination did not lift everything" })
}

// Two regulations of the same user at once lose neither (compare-and-set).
func TestConcurrentSuppressionsOfOneUserAddUp(t *testing.T) {
	st, _ := openStore(t)
	dests := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var wg sync.WaitGroup
	errs := make(chan error, len(dests))
	wg.Add(len(dests))
	for _, d := range dests {
		go func() {
			defer wg.Done()
			errs <- st.Submit(context.Background(), &regulations.Regulation{Type: regulations.Suppress, Destinations: []string{d},
				Users: []plan.User{{UserID: "same"}}, RequestedBy: "test"}, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ix, err := regulations.Load(context.Background(), st.KV())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dests {
		if _, ok := ix.Suppressed(d, "same", ""); !ok {
			t.Errorf("the suppression at %s was lost", d)
		}
	}
}

// A regulation is checked before anything is stored, every problem named.
func TestRegulationsAreChecked(t *testing.T) {
	st, _ := openStore(t)
	many := make([]plan.User, regulations.MaxUsers+1)
	for i := range many {
		many[i] = plan.User{UserID: fmt.Sprint("u", i)}
	}
	cases := []struct {
		r    regulations.Regulation
		want []string
	}{
		{regulations.Regulation{Type: "erase", Users: []plan.User{{UserID: "u"}}}, []string{`type "erase"`}},
		{regulations.Regulation{Type: regulations.Delete}, []string{"no user"}},
		{regulations.Regulation{Type: regulations.Delete, Users: many}, []string{"5001 users: at most 5000"}},
		{regulations.Regulation{Type: regulations.Suppress, Users: []plan.User{{Email: "x@y.z"}, {UserID: " padded"}, {UserID: strings.Repeat("x", 600)}}},
			[]string{"users[0]: neither userId nor anonymousId", "users[1]: userId", "users[2]: userId is 600 bytes"}},
		{regulations.Regulation{Type: regulations.Delete, Users: []plan.User{{UserID: "u", Email: "nope"}}, Destinations: []string{"Bad Name"}},
			[]string{`email "nope"`, `"Bad Name" is not a destination name`}},
	}
	for _, c := range cases {
		err := st.Submit(context.Background(), &c.r, nil)
		if !errors.Is(err, regulations.ErrRefused) {
			t.Errorf("%+v: %v, want refused", c.r.Type, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v does not say %q", err, w)
			}
		}
	}
	if reps, err := st.List(context.Background(), 0); err != nil || len(reps) != 0 {
		t.Errorf("refused regulations were stored: %d, %v", len(reps), err)
	}
}

// A deletion records each destination's status: pending where a task is
// queued, not_supported with why; the overall status follows them.
func TestDeletionStatusAndOverall(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	r := &regulations.Regulation{Type: regulations.SuppressWithDelete, Users: []plan.User{{UserID: "u-1"}}, Reason: "ticket 7", RequestedBy: "test"}
	scope := []regulations.Scope{{Destination: "braze"}, {Destination: "amplitude"}, {Destination: "slack", Unsupported: "no user store"}}
	if err := st.Submit(ctx, r, scope); err != nil {
		t.Fatal(err)
	}
	rep, err := st.Report(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != regulations.Pending || len(rep.Deletions) != 3 || rep.NotSupported[0] != "slack" || rep.Applied == nil || rep.Reason != "ticket 7" {
		t.Fatalf("report %+v", rep)
	}
	set := func(dest string, s regulations.State) {
		t.Helper()
		if err := st.SetStatus(ctx, r.ID, regulations.DestStatus{Destination: dest, State: s}); err != nil {
			t.Fatal(err)
		}
	}
	overall := func() regulations.State {
		t.Helper()
		rep, err := st.Report(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Status
	}
	set("braze", regulations.Running)
	if got := overall(); got != regulations.Running {
		t.Errorf("one running: %s", got)
	}
	set("braze", regulations.Finished)
	set("braze", regulations.Running) // a late redelivery cannot undo a finished one
	set("amplitude", regulations.Failed)
	if got := overall(); got != regulations.Partial {
		t.Errorf("one finished, one failed: %s", got)
	}
	s, _ := st.Status(ctx, r.ID, "braze")
	if s.State != regulations.Finished {
		t.Errorf("braze went back to %s", s.State)
	}
	all := &regulations.Regulation{Type: regulations.Delete, Users: []plan.User{{UserID: "u"}}, RequestedBy: "t"}
	must(t, st.Submit(ctx, all, []regulations.Scope{{Destination: "x"}}))
	must(t, st.SetStatus(ctx, all.ID, regulations.DestStatus{Destination: "x", State: regulations.Failed}))
	if rep, _ := st.Report(ctx, all.ID); rep.Status != regulations.Failed {
		t.Errorf("all failed: %s", rep.Status)
	}
	reps, err := st.List(ctx, 0)
	if err != nil || len(reps) != 2 || reps[0].ID != all.ID {
		t.Errorf("list: %d, newest first %v, %v", len(reps), len(reps) > 0 && reps[0].ID == all.ID, err)
	}
	if _, err := st.Report(ctx, "rg-nope"); !errors.Is(err, regulations.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A report names every destination in scope while their statuses are being
// rewritten: the deleters update them as the report is read (a listing of
// the status keys could miss the one being rewritten at that moment).
func TestReportsNameEveryDestinationWhileStatusesChange(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	dests := []string{"a", "b", "c", "d", "e", "f"}
	var scope []regulations.Scope
	for _, d := range dests {
		scope = append(scope, regulations.Scope{Destination: d})
	}
	r := &regulations.Regulation{Type: regulations.Delete, Users: []plan.User{{UserID: "u-1"}}, RequestedBy: "test"}
	must(t, st.Submit(ctx, r, scope))
	if len(r.Scope) != len(dests) {
		t.Fatalf("the regulation records scope %v, want %v", r.Scope, dests)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				state := regulations.Running
				if i%2 == 1 {
					state = regulations.Pending
				}
				if err := st.SetStatus(ctx, r.ID, regulations.DestStatus{Destination: d, State: state, Attempts: i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 200 {
		rep, err := st.Report(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Deletions) != len(dests) {
			t.Errorf("a report names %d of %d destinations: %+v", len(rep.Deletions), len(dests), rep.Deletions)
			break
		}
	}
	close(stop)
	wg.Wait()
}
