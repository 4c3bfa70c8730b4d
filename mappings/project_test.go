package mappings

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// projections are those the router's plans use (router/plan) and the
// bare minimum.
var projections = []*Projection{Project(), Project("integrations"), Project("integrations", "context")}

// FuzzDecodeProjected holds DecodeProjected to Decode: for every input and
// projection, both refuse with the same reason, or both accept, with the
// same identifiers, times and integrations, and the projected event holds
// exactly the kept members of the whole one (or is the whole one, when
// the single pass left the event to the exact path). It runs under
// Decode's default limits and under small ones, so that a skipped member
// over a limit is refused as a decoded one is.
func FuzzDecodeProjected(f *testing.F) {
	base := `"type":"track","messageId":"m-1","userId":"u-1","event":"E","timestamp":"2026-01-02T03:04:05Z"`
	for _, s := range []string{
		`{` + base + `}`,
		`{` + base + `,"properties":{"a":[1,2.5,{"b":"c"}],"d":null}}`,
		`{` + base + `,"properties":"not an object"}`,
		`{` + base + `,"traits":[1]}`,
		`{` + base + `,"context":{"consent":{"categoryPreferences":{"ads":false}}},"integrations":{"All":false}}`,
		`{` + base + `,"properties":{"n":1e400}}`,
		`{` + base + `,"properties":{"n":-1e-400,"m":12345678901234567890123,"o":9007199254740993.0}}`,
		`{` + base + `,"properties":{"s":"\ud800\u0041","t":"x\"\\\/\b\f\n\r\ty"}}`,
		"{" + base + ",\"properties\":{\"s\":\"\xff\xfe\"}}",
		`{` + base + `,"properties":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}`,
		`{` + base + `,"properties":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}}`,
		`{` + base + `,"properties":{"a":[1,2,3,4,5,6]}}`,
		`{` + base + `,"properties":{"a":01}}`,
		`{` + base + `,"properties":{"a":"\u12"}}`,
		`{` + base + `,"properties":{"a":1.}}`,
		`{` + base + `,"properties":{"a":tru}}`,
		`{` + base + `,"properties":{"a":1}}}`,
		`{"type":"track","messageId":"m","event":"E","properties":{}}`,
		`{` + base + `,"type":"identify","traits":{"email":"a@b.c"}}`,
		`{` + base + `,"sentAt":"2026-01-02T03:04:06Z","receivedAt":"2026-01-02T03:04:07Z","extra":{"x":[{}]}}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	now := time.Date(2026, 1, 2, 3, 4, 8, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		lim := Limits{}
		if small {
			lim = Limits{MaxBytes: 4096, MaxDepth: 4, MaxProperties: 5}
		}
		whole, errWhole := Decode(data, now, lim)
		if errWhole == nil && whole.ValidUTF8(data) && !utf8.Valid(data) {
			t.Fatalf("Decode(%q) says its bytes are valid UTF-8", data)
		}
		for _, keep := range projections {
			part, err := DecodeProjected(data, now, lim, keep)
			if err == nil && part.ValidUTF8(data) && !utf8.Valid(data) {
				t.Fatalf("keeping %s, DecodeProjected(%q) says its bytes are valid UTF-8", keep, data)
			}
			if (err == nil) != (errWhole == nil) || (err != nil && err.Error() != errWhole.Error()) {
				t.Fatalf("keeping %s, DecodeProjected(%q) = %v; Decode says %v", keep, data, err, errWhole)
			}
			if err != nil {
				continue
			}
			if part.Projection() == nil {
				// Left to the whole decode.
				if !reflect.DeepEqual(part.Raw, whole.Raw) {
					t.Fatalf("keeping %s, the whole decode of %q differs from Decode's", keep, data)
				}
				continue
			}
			if part.Type != whole.Type || part.MessageID != whole.MessageID || part.UserID != whole.UserID ||
				part.AnonymousID != whole.AnonymousID || !part.Timestamp.Equal(whole.Timestamp) || !part.ReceivedAt.Equal(whole.ReceivedAt) {
				t.Fatalf("keeping %s, %q is identified or timed differently: %+v, Decode: %+v", keep, data, part, whole)
			}
			for k, v := range whole.Raw {
				got, held := part.Raw[k]
				switch {
				case keep.Keeps(k) && (!held || !reflect.DeepEqual(got, v)):
					t.Fatalf("keeping %s, member %q of %q is %#v (held %v), Decode gives %#v", keep, k, data, got, held, v)
				case !keep.Keeps(k) && held:
					t.Fatalf("keeping %s, member %q of %q was decoded", keep, k, data)
				}
			}
			if len(part.Raw) > len(whole.Raw) {
				t.Fatalf("keeping %s, %q decodes to more members than Decode gives: %v", keep, data, part.Raw)
			}
			if keep.Keeps("integrations") && !reflect.DeepEqual(part.Integrations, whole.Integrations) {
				t.Fatalf("keeping %s, the integrations of %q differ", keep, data)
			}
		}
	})
}

// TestDecodeProjectedBuildsLess proves the point of it: skipping an
// order's properties and traits spares their maps and boxes.
func TestDecodeProjectedBuildsLess(t *testing.T) {
	data := benchEvents["fast"]
	now := time.Now()
	keep := Project("integrations")
	ev, err := DecodeProjected(data, now, Limits{}, keep)
	if err != nil || ev.Projection() != keep {
		t.Fatalf("DecodeProjected: %v (projection %v)", err, ev.Projection())
	}
	if ev.Properties != nil || ev.Context != nil || ev.Integrations == nil {
		t.Fatalf("properties %v, context %v, integrations %v: want only the integrations", ev.Properties, ev.Context, ev.Integrations)
	}
	whole := testing.AllocsPerRun(100, func() { _, _ = Decode(data, now, Limits{}) })
	part := testing.AllocsPerRun(100, func() { _, _ = DecodeProjected(data, now, Limits{}, keep) })
	if part*2 > whole {
		t.Fatalf("DecodeProjected allocates %.0f times, Decode %.0f: want at most half", part, whole)
	}
	if s := keep.String(); !strings.Contains(s, "integrations") || !strings.Contains(s, "messageId") {
		t.Fatalf("String() = %q", s)
	}
}

func BenchmarkDecodeProjected(b *testing.B) {
	now := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	data := benchEvents["fast"]
	for _, keep := range []*Projection{nil, Project("integrations"), Project("integrations", "context")} {
		b.Run(keep.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodeProjected(data, now, Limits{}, keep); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestProjectionHasIsItsSet holds has, which reads the members every
// projection keeps by a switch and its few others one by one, to the set
// it stands for, with few and with many other members.
func TestProjectionHasIsItsSet(t *testing.T) {
	others := []string{"integrations", "context", "traits", "properties", "name", "channel", ""}
	keys := slices.Concat(eventMembers, others, []string{"Type", "message", "types", "x"})
	for n := 0; n <= len(others); n++ {
		p := Project(others[:n]...)
		for _, k := range keys {
			if got, want := p.has(k), p.set[k]; got != want {
				t.Errorf("Project(%q).has(%q) = %v, its set says %v", others[:n], k, got, want)
			}
		}
	}
	for k := range map[string]bool{"traits": true, "properties": true, "context": true, "integrations": true} {
		if !isObjectMember(k) {
			t.Errorf("isObjectMember(%q) = false", k)
		}
	}
	for _, k := range eventMembers {
		if isObjectMember(k) || !isEventMember(k) {
			t.Errorf("%q: isObjectMember %v, isEventMember %v", k, isObjectMember(k), isEventMember(k))
		}
	}
}
