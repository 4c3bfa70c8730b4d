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
		if str, isStr := v.(string); v == nil || isStr && str == "" {
			// SDKs in the wild send "" for an unknown time: absent.
			// (Compared as a string: v == "" is a call to efaceeq.)
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
		if t, ok := parseUTC(x); ok {
			return t, true
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// parseUTC reads the shape nearly every SDK sends, a UTC time such as
// "2026-01-02T03:04:05.678Z" (a fraction of 1 to 9 digits, or none), to
// the time time.Parse with time.RFC3339Nano gives (its parseRFC3339, the
// same checks of every field's range), without the layout machinery:
// Decode reads two or three times per event. ok is false for any other
// shape, which ParseTime reads through its layouts.
//
// The first 19 bytes are read as three words, bytes 0-7 ("2026-01-"),
// 8-15 ("02T03:04") and 11-18 ("03:04:05"): each must hold its
// separators where the shape puts them and digits everywhere else, which
// a few word operations check at once (digitsAt).
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	w0, w1, w2 := load8(s, 0), load8(s, 8), load8(s, 11)
	if w0&seps0 != '-'<<32|'-'<<56 || w1&seps12 != 'T'<<16|':'<<40 || w2&seps12 != ':'<<16|':'<<40 ||
		!digitsAt(w0, ^uint64(seps0)) || !digitsAt(w1, ^uint64(seps12)) || !digitsAt(w2, ^uint64(seps12)) {
		return time.Time{}, false
	}
	// Each digit xor '0' is its value (a subtraction would borrow
	// across the separators).
	d0, d1, d2 := w0^ones*'0', w1^ones*'0', w2^ones*'0'
	year := digit(d0, 0)*1000 + digit(d0, 1)*100 + digit(d0, 2)*10 + digit(d0, 3)
	month, day := digit(d0, 5)*10+digit(d0, 6), digit(d1, 0)*10+digit(d1, 1)
	hour, minute, sec := digit(d2, 0)*10+digit(d2, 1), digit(d2, 3)*10+digit(d2, 4), digit(d2, 6)*10+digit(d2, 7)
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for _, c := range []byte(frac[1:]) {
			if c-'0' > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		nsec *= nanoScale[len(frac)-2]
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Days since 1970-01-01 of the proleptic Gregorian date, as time.Date
	// counts them (H. Hinnant, "chrono-Compatible Low-Level Date
	// Algorithms", days_from_civil; years 0 to 9999, so the era is never
	// below -1).
	y := year
	if month <= 2 {
		y--
	}
	era := (y+400)/400 - 1
	yoe := y - era*400
	mp := (month + 9) % 12
	doe := yoe*365 + yoe/4 - yoe/100 + (153*mp+2)/5 + day - 1
	days := era*146097 + doe - 719468
	unix := int64(days)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// The separators of parseUTC's words: bytes 4 and 7 of the first ('-'),
// 2 and 5 of the others ('T' and ':', ':' and ':').
const (
	seps0  = 0xff<<32 | 0xff<<56
	seps12 = 0xff<<16 | 0xff<<40
)

// digitsAt reports whether every byte of w that mask marks (0xff) is an
// ASCII digit. Such a byte minus '0' (as an xor: '0' is 0x30 and the
// digits 0x30-0x39) is at most 9, and x+0x76 has its high bit set just
// when x is 10 or more, up to 0x89; from 0x80 x has its own high bit, so
// the carry of x+0x76 into the next byte (x >= 0x8a) never hides a
// refusal. The bytes mask leaves out are 0 after the mask and stay 0.
func digitsAt(w, mask uint64) bool {
	x := (w ^ ones*'0') & mask
	return (x|(x+(ones*0x76)&mask))&highs == 0
}

// digit is byte k of d, a word of digit values.
func digit(d uint64, k uint) int { return int(d >> (8 * k) & 0xff) }

// nanoScale[n-1] turns a fraction of n digits into nanoseconds.
var nanoScale = [9]int{1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// daysIn is the number of days of month in year (time's daysIn).
func daysIn(month, year int) int {
	switch {
	case month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0):
		return 29
	case month == 2:
		return 28
	case month == 4 || month == 6 || month == 9 || month == 11:
		return 30
	}
	return 31
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

// AppendTimestamp appends FormatTimestamp(t) to dst. The route prints
// two times per request and the environment one: the date is found from
// the Unix time in one step (civil), not by t.Date and t.Clock apiece,
// and each field is written two digits at a time.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	year, month, day := civil(days)
	if year < 0 || year > 9999 {
		return t.UTC().AppendFormat(dst, TimestampLayout)
	}
	hour, minute, second := int(rem/3600), int(rem/60%60), int(rem%60)
	ms := t.Nanosecond() / 1e6
	b := [24]byte{4: '-', 7: '-', 10: 'T', 13: ':', 16: ':', 19: '.', 23: 'Z'}
	put := func(i, v int) { b[i], b[i+1] = digitPairs[2*v], digitPairs[2*v+1] }
	put(0, year/100)
	put(2, year%100)
	put(5, month)
	put(8, day)
	put(11, hour)
	put(14, minute)
	put(17, second)
	b[20] = byte('0' + ms/100)
	put(21, ms%100)
	return append(dst, b[:]...)
}

// digitPairs holds "00" to "99", each number's two digits at twice it.
const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// civil is the proleptic Gregorian date of days since 1970-01-01 (H.
// Hinnant, "chrono-Compatible Low-Level Date Algorithms",
// civil_from_days), the inverse of parseUTC's count.
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}
