package mappings

import "time"

type tsError struct{ field, reason string }

// CorrectTimestamp returns when the event happened, following the Segment
// spec ("Timestamps" in the Common Fields spec):
//
//	timestamp = receivedAt - (sentAt - originalTimestamp)
//
// The client's own time is originalTimestamp, else timestamp. When the
// client time, sentAt and receivedAt are all known, the device clock's skew
// is removed with the formula above; with an accurate clock the result is the
// client time itself, so historical imports are not shifted. Otherwise the
// first of client time, receivedAt and sentAt is used. The event's own
// receivedAt wins over the fallback, which is the time the platform received
// it (the stream time). A present but unparsable time is an error.
func CorrectTimestamp(raw map[string]any, fallback time.Time) (time.Time, *tsError) {
	top := topOf(raw)
	return correctTimestamp(&top, fallback)
}

// correctTimestamp is CorrectTimestamp reading the times from top.
func correctTimestamp(top *eventTop, fallback time.Time) (time.Time, *tsError) {
	get := func(f string, v any) (time.Time, bool, *tsError) {
		if v == nil || v == "" {
			// SDKs in the wild send "" for an unknown time: absent.
			return time.Time{}, false, nil
		}
		t, ok := ParseTime(v)
		if !ok {
			return time.Time{}, false, &tsError{f, "not an ISO-8601 time"}
		}
		return t, true, nil
	}
	orig, hasOrig, err := get("originalTimestamp", top.originalTimestamp)
	if err != nil {
		return time.Time{}, err
	}
	ts, hasTS, err := get("timestamp", top.timestamp)
	if err != nil {
		return time.Time{}, err
	}
	sent, hasSent, err := get("sentAt", top.sentAt)
	if err != nil {
		return time.Time{}, err
	}
	recv, hasRecv, err := get("receivedAt", top.receivedAt)
	if err != nil {
		return time.Time{}, err
	}
	if !hasRecv && !fallback.IsZero() {
		recv, hasRecv = fallback, true
	}
	client, hasClient := orig, hasOrig
	if !hasClient {
		client, hasClient = ts, hasTS
	}
	switch {
	case hasClient && hasSent && hasRecv:
		return recv.Add(-sent.Sub(client)).UTC(), nil
	case hasClient:
		return client.UTC(), nil
	case hasRecv:
		return recv.UTC(), nil
	case hasSent:
		return sent.UTC(), nil
	}
	return time.Now().UTC(), nil
}

// timeLayouts are the ISO-8601 shapes SDKs are seen to send.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTime reads an ISO-8601 string or a time.Time. Times without a zone
// are taken as UTC.
func ParseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// FormatTimestamp is t.UTC().Format(TimestampLayout), the form of every
// time switchyard prints ("2006-01-02T15:04:05.000Z"), written directly
// for years 0 to 9999: Env.Reset prints the event's time for each
// destination that routes it, and the layout interpreter of time.Format
// costs several times the writing.
func FormatTimestamp(t time.Time) string {
	var b [24]byte
	return string(AppendTimestamp(b[:0], t))
}

// AppendTimestamp appends FormatTimestamp(t) to dst.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimestampLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	var b [24]byte
	put := func(i, v, digits int) {
		for j := i + digits - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, ms, 3)
	b[23] = 'Z'
	return append(dst, b[:]...)
}
