package router

import (
	"maps"
	"slices"
	"sync"
)

// Invalid events are stored once: an event that is not a valid Segment
// event is invalid for every destination that reads it, so its dead letter
// names them all (DeadLetter.Shared) and the lanes of a router write it
// once between them (seenSet); across routers the DLQ's dedupe id does.

// readersOf lists the enabled destinations that read subject: those an
// invalid event on it fails for.
func (r *Router) readersOf(subject string) []string {
	src := sourceOf(subject)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.plans)) {
		p := r.plans[name]
		if p.Enabled && (len(p.Sources) == 0 || contains(p.Sources, src)) {
			out = append(out, name)
		}
	}
	return out
}

// seenSet remembers stream sequences, bounded: forgetting one only costs
// a second store of an invalid event, which the DLQ's dedupe window
// usually drops anyway.
type seenSet struct {
	mu sync.Mutex
	m  map[uint64]struct{}
}

const maxSeen = 100_000

func (s *seenSet) seen(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[seq]
	return ok
}

func (s *seenSet) add(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint64]struct{}{}
	}
	if len(s.m) >= maxSeen {
		for k := range s.m {
			delete(s.m, k)
			if len(s.m) <= maxSeen/2 {
				break
			}
		}
	}
	s.m[seq] = struct{}{}
}
