package router

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// The source is the subject's second token (events.<source>.<type>).
func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"events.web.track": "web",
		"events.ios":       "ios",
		"events":           "",
		"events..track":    "",
		"":                 "",
	} {
		if got := sourceOf(in); got != want {
			t.Errorf("sourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// A freed slot wakes the pull goroutine only when it would pull: once
// minPull slots are free (half of them: nothing is on the wire), or when
// the lane holds nothing. Woken for every slot, a rate-bound lane's pull
// goroutine woke once per event to find too few slots to pull for.
func TestReleaseWakesThePullOnlyWhenItWouldPull(t *testing.T) {
	const slots = 64
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	l := &lane{
		sender: s,
		slots:  make(chan struct{}, slots),
		freed:  make(chan struct{}, 1),
		held:   map[uint64]*delivery{},
		trails: map[uint64]*trail{},
		queues: map[string][]*delivery{},
	}
	if l.minPull() != slots/2 {
		t.Fatalf("minPull %d with nothing on the wire, want %d", l.minPull(), slots/2)
	}
	ds := make([]*delivery, slots)
	for i := range ds {
		ds[i] = &delivery{seq: uint64(i + 1)}
		l.held[ds[i].seq] = ds[i]
		l.slots <- struct{}{}
		l.settled.Add(1)
	}
	woken := func() bool {
		select {
		case <-l.freed:
			return true
		default:
			return false
		}
	}
	for i, d := range ds {
		l.release(d, true)
		free := i + 1
		want := free >= slots/2 || free == slots
		if got := woken(); got != want {
			t.Fatalf("after %d of %d slots freed: pull woken %v, want %v", free, slots, got, want)
		}
	}
	if len(l.held) != 0 || len(l.slots) != 0 {
		t.Fatalf("still held: %d, slots taken: %d", len(l.held), len(l.slots))
	}
	// A lane holding one event pulls for any free slot once it holds none.
	l.slots <- struct{}{}
	l.settled.Add(1)
	l.release(&delivery{seq: 99}, true)
	if !woken() {
		t.Fatal("the last held event's release did not wake the pull")
	}
	l.settled.Wait()
}

// A lane whose tool holds more than a quarter of its events on the wire
// (a slow tool, bound by max_in_flight) refills once an eighth of its
// slots are free: what it holds is what it sends.
func TestMinPullWhileTheToolHoldsTheEvents(t *testing.T) {
	const slots = 64
	arrived := make(chan struct{}, slots)
	answer := make(chan struct{})
	answerAll := sync.OnceFunc(func() { close(answer) })
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		arrived <- struct{}{}
		<-answer
	}))
	defer srv.Close()
	defer answerAll() // before Close, which waits for the handlers, on every path
	s, err := destinations.NewSender(destinations.SenderConfig{Name: "t", Attempts: 1, Rate: destinations.RateConfig{Concurrency: slots}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &lane{sender: s, slots: make(chan struct{}, slots)}
	const onWire = slots/4 + 1
	var wg sync.WaitGroup
	for range onWire {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Send(context.Background(), &destinations.Request{Method: http.MethodPost, URL: srv.URL, Body: []byte(`{}`)})
		}()
	}
	for range onWire {
		<-arrived
	}
	if n := s.Sending(); n != onWire {
		t.Fatalf("Sending() = %d with %d requests at the tool", n, onWire)
	}
	if got := l.minPull(); got != slots/8 {
		t.Fatalf("minPull %d with %d of %d on the wire, want %d", got, onWire, slots, slots/8)
	}
	answerAll()
	wg.Wait()
	if got := l.minPull(); got != slots/2 {
		t.Fatalf("minPull %d once every answer is back, want %d", got, slots/2)
	}
}
