package mappings

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Time helpers. Segment spec times (timestamp, sentAt, traits.createdAt,
// ...) are ISO-8601 strings (Common Fields spec, "Timestamps"); tools want
// ISO-8601 in UTC, Unix seconds or Unix milliseconds.

// unixMillisThreshold tells Unix milliseconds from Unix seconds: 1e11
// seconds is the year 5138, while 1e11 milliseconds is March 1973, so no
// plausible time in seconds is above it and none in milliseconds below it.
const unixMillisThreshold = 1e11

// maxUnixMillis bounds what is read as a Unix time (about the year 33658 in
// milliseconds), so that garbage is an error, not a time far in the future.
const maxUnixMillis = 1e15

// toTime reads a time: an ISO-8601 string, a time.Time (from expr's now()
// and date()), or a Unix time in seconds or milliseconds, as a number or a
// string of digits. ok is false for nil and blank strings.
func toTime(v any) (t time.Time, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return x, true, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return time.Time{}, false, nil
		}
		if t, ok := ParseTime(s); ok {
			return t, true, nil
		}
		if f, ok, err := toNumber(s); ok && err == nil && math.Abs(f) <= maxUnixMillis {
			return unixTime(f), true, nil
		}
		return time.Time{}, false, fmt.Errorf("not an ISO-8601 time or Unix time: %q", x)
	case int64, int, float64, json.Number:
		f, _, err := toNumber(x)
		if err != nil {
			return time.Time{}, false, err
		}
		if math.Abs(f) > maxUnixMillis {
			return time.Time{}, false, fmt.Errorf("out of range for Unix time: %s", Stringify(x))
		}
		return unixTime(f), true, nil
	}
	return time.Time{}, false, fmt.Errorf("not a time: %s", kindOf(v))
}

// unixTime reads f as Unix seconds, or Unix milliseconds when it is beyond
// unixMillisThreshold.
func unixTime(f float64) time.Time {
	if math.Abs(f) > unixMillisThreshold {
		ms := math.Round(f)
		return time.UnixMilli(int64(ms)).UTC()
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
}

// timeHelper registers a one-argument time conversion.
// same, when set, returns a value that conv would print unchanged, as
// conv would print it, without parsing and printing it.
func timeHelper(name, sig, doc, example string, conv func(time.Time) any, same func(any) (any, bool)) {
	register(Helper{
		Name: name,
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("%s: want one argument, got %d", name, len(params))
			}
			if same != nil {
				if v, ok := same(params[0]); ok {
					return v, nil
				}
			}
			t, ok, err := toTime(params[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if !ok {
				return nil, nil
			}
			return conv(t), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: sig,
		Doc: doc + " t may be an ISO-8601 string (a time without a zone is UTC), a time (now(), date(...)), or " +
			"a Unix time in seconds or milliseconds, as a number or a string of digits: a value above 1e11 is " +
			"read as milliseconds (1e11 s is the year 5138, 1e11 ms is 1973). nil or \"\" gives nil; anything " +
			"else is an error. Segment Common Fields spec: times are ISO-8601 " +
			"(https://segment.com/docs/connections/spec/common/#timestamps).",
		Example: example,
	})
}

func init() {
	timeHelper("iso", "iso(t any) string",
		"Returns t as ISO-8601 in UTC with milliseconds, \"2006-01-02T15:04:05.000Z\", the form of the "+
			"event's own `timestamp` field.",
		`iso(traits.createdAt)`,
		func(t time.Time) any { return FormatTimestamp(t) }, isoAlready)
	timeHelper("unixSeconds", "unixSeconds(t any) int",
		"Returns t as whole Unix seconds (fractions dropped), as Mixpanel's `time` or Braze's epoch fields "+
			"take it.",
		`unixSeconds(timestamp)`,
		func(t time.Time) any { return t.Unix() }, nil)
	timeHelper("unixMillis", "unixMillis(t any) int",
		"Returns t as Unix milliseconds, as Amplitude's `time` takes it.",
		`unixMillis(timestamp)`,
		func(t time.Time) any { return t.UnixMilli() }, nil)
}

// isoAlready returns v when it is a text iso() would print as it is: a
// valid time written in TimestampLayout in UTC ("2024-03-01T12:00:00.000Z",
// the form of the event's own timestamp, which presets pass to iso() most).
// Parsing it reads the same instant, and printing that gives the same
// 24 characters, so the print is skipped.
func isoAlready(v any) (any, bool) {
	s, ok := v.(string)
	if !ok || len(s) != 24 || s[23] != 'Z' || s[19] != '.' || s[10] != 'T' {
		return nil, false
	}
	for i := 0; i < 23; i++ {
		switch i {
		case 4, 7, 10, 13, 16, 19:
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
	}
	if _, err := time.Parse(TimestampLayout, s); err != nil {
		return nil, false
	}
	return v, true
}

// dateTimeText is an ISO-8601 date with a time: the texts formatTimes
// converts. A date alone ("2024-11-05") is left as it is, as Segment's own
// Iterable destination leaves it.
var dateTimeText = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}`)

// formatTimes returns v with every ISO-8601 date-time text inside it, at
// any depth of objects and lists, written in layout in UTC. Nothing is
// changed in place.
func formatTimes(v any, layout string) any {
	switch x := v.(type) {
	case string:
		if !dateTimeText.MatchString(strings.TrimSpace(x)) {
			return x
		}
		if t, ok := ParseTime(strings.TrimSpace(x)); ok {
			return t.UTC().Format(layout)
		}
		return x
	case time.Time:
		return x.UTC().Format(layout)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = formatTimes(e, layout)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = formatTimes(e, layout)
		}
		return out
	}
	return v
}

func init() {
	register(Helper{
		Name: "formatTimes",
		Fn: func(params ...any) (any, error) {
			if len(params) != 2 {
				return nil, fmt.Errorf("formatTimes: want (value, layout), got %d arguments", len(params))
			}
			layout, ok := params[1].(string)
			if !ok || strings.TrimSpace(layout) == "" {
				return nil, fmt.Errorf("formatTimes: the layout must be a Go time layout such as \"2006-01-02 15:04:05 -07:00\", not %s", kindOf(params[1]))
			}
			return formatTimes(params[0], layout), nil
		},
		Types:     []any{new(func(any, string) any)},
		Signature: `formatTimes(v any, layout string) any`,
		Doc: "Returns v with every ISO-8601 date-time text in it (at any depth of objects and lists; a time without " +
			"a zone is UTC) rewritten in layout, a Go time layout, in UTC. Date-only texts (\"2024-11-05\") and every " +
			"other value are left as they are; v is not changed. For tools that segment on dates only in their own " +
			"format: Iterable's is \"2006-01-02 15:04:05 -07:00\" (yyyy-MM-dd HH:mm:ss ZZ, " +
			"https://support.iterable.com/hc/en-us/articles/208183076-Field-Data-Types).",
		Example: `formatTimes(traits, "2006-01-02 15:04:05 -07:00")`,
	})
}
