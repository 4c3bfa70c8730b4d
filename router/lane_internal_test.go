package router

import "testing"

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

// A freed slot wakes the pull goroutine only when it would pull: once an
// eighth of the slots are free, or when the lane holds nothing. Woken for
// every slot, a rate-bound lane's pull goroutine woke once per event to
// find too few slots to pull for.
func TestReleaseWakesThePullOnlyWhenItWouldPull(t *testing.T) {
	const slots = 64 // minPull 8
	l := &lane{
		slots:  make(chan struct{}, slots),
		freed:  make(chan struct{}, 1),
		held:   map[uint64]*delivery{},
		trails: map[uint64]*trail{},
		queues: map[string][]*delivery{},
	}
	if l.minPull() != slots/8 {
		t.Fatalf("minPull %d, want %d", l.minPull(), slots/8)
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
		want := free >= slots/8 || free == slots
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
