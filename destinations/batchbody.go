package destinations

// BatchBody builds the body a batch of these items would be sent with:
// what preview shows for a batching action, and what contract checks
// validate.
func BatchBody(spec BatchSpec, items ...[]byte) ([]byte, error) {
	prefix, suffix, err := batchFrame(spec.Key, spec.Envelope)
	if err != nil {
		return nil, err
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
