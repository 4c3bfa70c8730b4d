package destinations

import "fmt"

// BatchBody builds the body a batch of these items would be sent with:
// what preview shows for a batching action, and what contract checks
// validate. An item the Batcher would fail alone (see checkItem) is an
// error naming it.
func BatchBody(spec BatchSpec, items ...[]byte) ([]byte, error) {
	prefix, suffix, err := batchFrame(spec.Key, spec.Envelope)
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		if err := checkItem(it, false); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	out := append([]byte{}, prefix...)
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, suffix...), nil
}
