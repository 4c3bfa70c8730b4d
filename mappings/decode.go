package mappings

import (
	"bytes"
	"encoding/json"
	"math"

	fastjson "github.com/goccy/go-json"
)

// decodeObject parses one JSON object into maps, lists, strings, booleans,
// int64 (whole numbers) and float64.
//
// Decoding is the largest share of a lane's CPU (docs/performance.md), so
// the common case goes through goccy/go-json, which decodes the same JSON
// as encoding/json about twice as fast. It reads numbers as float64, which
// would lose digits of integers beyond 2^53 (numeric user ids), so an event
// holding a number of 16 digits or more is decoded with encoding/json's
// UseNumber instead, keeping every digit (checkShape spots those numbers
// in the pass it makes anyway).
func decodeObject(data []byte, longNumber bool) (map[string]any, error) {
	var raw map[string]any
	if longNumber {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, &InvalidError{Reason: "not a JSON object: " + err.Error()}
		}
		if dec.More() {
			return nil, &InvalidError{Reason: "trailing data after the JSON object"}
		}
	} else if err := fastjson.Unmarshal(data, &raw); err != nil {
		return nil, &InvalidError{Reason: "not a JSON object: " + err.Error()}
	}
	if raw == nil {
		return nil, &InvalidError{Reason: "not a JSON object: null"}
	}
	normaliseNumbers(raw)
	return raw, nil
}

// wholeFloat turns a whole float64 that an int64 holds exactly into int64,
// so that numbers have the same Go types whichever decoder read them.
func wholeFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int64(f)
	}
	return f
}
