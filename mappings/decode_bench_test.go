package mappings

import (
	"testing"
	"time"
)

// benchEvents are a typical analytics.js track call, and the same call
// holding 19-digit numbers (a nanosecond timestamp, a 64-bit user id),
// which the single pass reads exactly as well.
var benchEvents = map[string][]byte{
	"fast": []byte(`{"type":"track","event":"Order Completed","messageId":"ajs-next-1a2b3c4d5e6f","userId":"u-1234",` +
		`"anonymousId":"0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f","timestamp":"2026-01-02T03:04:05.678Z","sentAt":"2026-01-02T03:04:05.900Z",` +
		`"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","library":{"name":"analytics.js","version":"next-1.70.0"},` +
		`"page":{"path":"/checkout","url":"https://shop.example.com/checkout","title":"Checkout"},"traits":{"email":"jane@example.com"}},` +
		`"properties":{"order_id":"o-98765","revenue":59.9,"currency":"EUR","products":[{"product_id":"p-1","price":19.95,"quantity":2},` +
		`{"product_id":"p-2","price":20,"quantity":1}]},"integrations":{"All":true}}`),
	"long-number": []byte(`{"type":"track","event":"Order Completed","messageId":"ajs-next-1a2b3c4d5e6f","userId":1234567890123456789,` +
		`"anonymousId":"0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f","timestamp":"2026-01-02T03:04:05.678Z","sentAt":"2026-01-02T03:04:05.900Z",` +
		`"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","library":{"name":"analytics.js","version":"next-1.70.0"},` +
		`"page":{"path":"/checkout","url":"https://shop.example.com/checkout","title":"Checkout"},"traits":{"email":"jane@example.com"}},` +
		`"properties":{"order_id":"o-98765","revenue":59.9,"currency":"EUR","ts_ns":1767323045678000000,"products":[{"product_id":"p-1","price":19.95,"quantity":2},` +
		`{"product_id":"p-2","price":20,"quantity":1}]},"integrations":{"All":true}}`),
}

// BenchmarkDecode measures Decode, the largest share of a lane's CPU
// (docs/performance.md), with short and with long numbers.
func BenchmarkDecode(b *testing.B) {
	now := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	for _, name := range []string{"fast", "long-number"} {
		data := benchEvents[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data, now, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
