package mappings

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// parseUTC gives what time.Parse with time.RFC3339Nano gives, the same
// time.Time to the bit, for every string it takes, and takes every UTC
// time of the shape SDKs send: every day of years that are and are not
// leap years, the days just past each month's end, fields just out of
// range, fractions of every length, and strings of the shape mutated at
// random.
func TestParseUTCIsTimeParse(t *testing.T) {
	check := func(s string, mustTake bool) {
		t.Helper()
		got, ok := parseUTC(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		switch {
		case ok && err != nil:
			t.Fatalf("parseUTC(%q) = %v; time.Parse refuses it: %v", s, got, err)
		case ok && got != want:
			t.Fatalf("parseUTC(%q) = %#v, time.Parse gives %#v", s, got, want)
		case !ok && mustTake && err == nil:
			t.Fatalf("parseUTC(%q) refuses what time.Parse reads as %v", s, want)
		}
	}
	var taken int
	for _, year := range []int{0, 1, 4, 100, 399, 400, 1600, 1899, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				s := fmt.Sprintf("%04d-%02d-%02dT23:59:59.999Z", year, month, day)
				check(s, true)
				if _, ok := parseUTC(s); ok {
					taken++
				}
			}
		}
	}
	if taken != 16*365+6 { // leap years among them: 0, 4, 400, 1600, 2000, 2024
		t.Errorf("parseUTC took %d dates, want %d", taken, 16*365+6)
	}
	for _, s := range []string{
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.6Z", "2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.123456789Z",
		"2026-01-02T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T23:60:00Z", "2026-01-02T23:59:60Z",
		"2026-01-02T03:04:05.1234567891Z", "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05,5Z", "2026-01-02T03:04:05z",
		"2026-01-02t03:04:05Z", "2026-01-02 03:04:05Z", "2026-1-02T03:04:05Z", "+026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00",
		"2026-01-02T03:04:05.-1Z", "2026-01-02T03:04:05.1aZ", "2026-01-0aT03:04:05Z", "20260102T030405Z", "",
	} {
		check(s, false)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789-:.TZz+ "
	for range 200_000 {
		b := []byte(time.Unix(r.Int64N(253402300800), r.Int64N(1e9)).UTC().Format(time.RFC3339Nano))
		check(string(b), true)
		for range r.IntN(3) {
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b), false)
	}
}

// FuzzParseUTC holds parseUTC to time.Parse on any input.
func FuzzParseUTC(f *testing.F) {
	f.Add("2026-01-02T03:04:05.678Z")
	f.Add("2024-02-29T23:59:59Z")
	f.Add("2023-02-29T23:59:59.123456789Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || got != want {
			t.Fatalf("parseUTC(%q) = %#v; time.Parse gives %#v, %v", s, got, want, err)
		}
	})
}

// FormatTimestamp is t.UTC().Format(TimestampLayout) for every time: the
// days around each era's and century's turn, random instants of years 0
// to 9999 in zones either side of UTC, and the years beyond, which fall
// back to time.Format.
func TestFormatTimestampIsTimeFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		if got, want := FormatTimestamp(tm), tm.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("FormatTimestamp(%v) = %q, want %q", tm, got, want)
		}
	}
	for _, year := range []int{-1, 0, 1, 99, 100, 399, 400, 401, 1600, 1900, 1969, 1970, 2000, 2024, 2100, 9999, 10000} {
		for d := -2; d <= 2; d++ {
			check(time.Date(year, 3, 1+d, 23, 59, 59, 999_999_999, time.UTC))
			check(time.Date(year, 1, 1+d, 0, 0, 0, 0, time.UTC))
		}
	}
	zones := []*time.Location{time.UTC, time.FixedZone("w", -(11*3600 + 30*60)), time.FixedZone("e", 14*3600)}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 300_000 {
		check(time.Unix(r.Int64N(253402300800+2*86400)-62167219200-86400, r.Int64N(1e9)).In(zones[i%3]))
	}
	check(time.Time{})
}
