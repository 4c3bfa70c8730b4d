package mappings

import (
	"testing"
	"time"
)

func TestTimeHelpers(t *testing.T) {
	const ev = `{"type":"identify","timestamp":"2024-03-01T10:00:00.123+02:00","traits":{"createdAt":"2023-01-02T03:04:05Z",
		"local":"2023-01-02 03:04:05","day":"2023-01-02","secs":1700000000,"ms":1700000000123,"msText":"1700000000123",
		"frac":1700000000.5,"bad":"yesterday","empty":"","flag":true}}`
	runHelperCases(t, []helperCase{
		{"iso of ISO string", ev, `iso(traits.createdAt)`, "2023-01-02T03:04:05.000Z", ""},
		{"iso converts offsets to UTC", ev, `iso("2024-03-01T10:00:00.5+02:00")`, "2024-03-01T08:00:00.500Z", ""},
		{"iso of a time without zone is UTC", ev, `iso(traits.local)`, "2023-01-02T03:04:05.000Z", ""},
		{"iso of a date", ev, `iso(traits.day)`, "2023-01-02T00:00:00.000Z", ""},
		{"iso of the event timestamp", ev, `iso(timestamp)`, "2024-03-01T08:00:00.123Z", ""},
		{"iso of unix seconds", ev, `iso(traits.secs)`, "2023-11-14T22:13:20.000Z", ""},
		{"iso of unix millis", ev, `iso(traits.ms)`, "2023-11-14T22:13:20.123Z", ""},
		{"iso of unix millis as text", ev, `iso(traits.msText)`, "2023-11-14T22:13:20.123Z", ""},
		{"iso of fractional seconds", ev, `iso(traits.frac)`, "2023-11-14T22:13:20.500Z", ""},
		{"iso of expr date()", ev, `iso(date("2024-05-06T07:08:09Z"))`, "2024-05-06T07:08:09.000Z", ""},
		{"iso nil", ev, `iso(traits.none)`, nil, ""},
		{"iso empty", ev, `iso(traits.empty)`, nil, ""},
		{"iso unparsable", ev, `iso(traits.bad)`, nil, `iso: not an ISO-8601 time or Unix time: "yesterday"`},
		{"iso of a boolean", ev, `iso(traits.flag)`, nil, "iso: not a time: a boolean"},
		{"iso of an absurd number", ev, `iso(1e300)`, nil, "iso: out of range for Unix time"},
		{"iso of absurd digits", ev, `iso("99999999999999999999")`, nil, "iso: not an ISO-8601 time or Unix time"},

		{"unixSeconds of ISO", ev, `unixSeconds(traits.createdAt)`, int64(1672628645), ""},
		{"unixSeconds of millis", ev, `unixSeconds(traits.ms)`, int64(1700000000), ""},
		{"unixSeconds of seconds", ev, `unixSeconds(traits.secs)`, int64(1700000000), ""},
		{"unixSeconds nil", ev, `unixSeconds(nil)`, nil, ""},
		{"unixMillis of ISO", ev, `unixMillis(timestamp)`, int64(1709280000123), ""},
		{"unixMillis of seconds", ev, `unixMillis(traits.secs)`, int64(1700000000000), ""},
		{"unixMillis of fractional seconds", ev, `unixMillis(traits.frac)`, int64(1700000000500), ""},
		{"unixMillis of millis", ev, `unixMillis(traits.ms)`, int64(1700000000123), ""},
		{"unixMillis bad", ev, `unixMillis("soon")`, nil, "unixMillis: not an ISO-8601 time"},
	})
}

func TestUnixTimeThreshold(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want time.Time
	}{
		{0, time.Unix(0, 0)},
		{1e11 - 1, time.Unix(1e11-1, 0)},     // still seconds (year 5138)
		{1e11 + 1, time.UnixMilli(1e11 + 1)}, // milliseconds (1973)
		{-1700000000123, time.UnixMilli(-1700000000123)},
	} {
		if got := unixTime(c.in); !got.Equal(c.want) {
			t.Errorf("unixTime(%v) = %v; want %v", c.in, got, c.want)
		}
	}
}

// iso() of a text already in its form returns it as it is: exactly what
// parsing and printing it gives, for every valid such text, and nothing
// it must not pass (out-of-range fields, other separators) is passed.
func TestIsoAlready(t *testing.T) {
	base := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2000; i++ {
		tm := base.Add(time.Duration(i) * 7919 * time.Hour).Add(time.Duration(i*389) * time.Millisecond)
		s := tm.Format(TimestampLayout)
		got, ok := isoAlready(s)
		if !ok || got != s {
			t.Fatalf("isoAlready(%q) = %v, %v", s, got, ok)
		}
		want, _ := ParseTime(s)
		if want.UTC().Format(TimestampLayout) != s {
			t.Fatalf("%q does not print back as itself", s)
		}
	}
	for _, s := range []string{"2024-13-01T12:00:00.000Z", "2024-02-30T12:00:00.000Z", "2024-03-01T24:00:00.000Z",
		"2024-03-01 12:00:00.000Z", "2024-03-01T12:00:00,000Z", "2024-03-01T12:00:00.000+", "+024-03-01T12:00:00.000Z",
		"2024-03-01T12:00:00.0000Z", "2024-03-01T12:60:00.000Z"} {
		if _, ok := isoAlready(s); ok {
			t.Errorf("isoAlready(%q) passes it", s)
		}
	}
}

func BenchmarkIsoOfTimestamp(b *testing.B) {
	ev := helperEvent(b, `{"type":"track","event":"A","userId":"u"}`)
	p, err := NewCompiler(ExprLimits{}).Expr("f", `iso(timestamp)`)
	if err != nil {
		b.Fatal(err)
	}
	env := NewEnv(ev, "s", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

// FormatTimestamp prints what time.Format prints, whatever the zone, the
// fraction (truncated to milliseconds, not rounded), and the year.
func TestFormatTimestamp(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", -(9*3600 + 30*60)), time.FixedZone("y", 14*3600)}
	base := time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	for i := 0; i < 5000; i++ {
		tm := base.Add(time.Duration(i) * 86413 * time.Second * 3).Add(time.Duration(i*7919) * time.Microsecond).In(zones[i%3])
		if got, want := FormatTimestamp(tm), tm.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("FormatTimestamp(%v) = %q, want %q", tm, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999_500_000, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 0, 0, 0, 1, time.UTC)} {
		if got, want := FormatTimestamp(tm), tm.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("FormatTimestamp(%v) = %q, want %q", tm, got, want)
		}
	}
}

func BenchmarkFormatTimestamp(b *testing.B) {
	tm := time.Date(2024, 3, 1, 12, 34, 56, 789_000_000, time.UTC)
	b.Run("time.Format", func(b *testing.B) {
		for b.Loop() {
			_ = tm.UTC().Format(TimestampLayout)
		}
	})
	b.Run("FormatTimestamp", func(b *testing.B) {
		for b.Loop() {
			_ = FormatTimestamp(tm)
		}
	})
}
