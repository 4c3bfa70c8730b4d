package ingest_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// trackOfSize is a valid track event of exactly n bytes.
func trackOfSize(t *testing.T, id string, n int) []byte {
	t.Helper()
	head := `{"type":"track","messageId":"` + id + `","userId":"u1","event":"Big","properties":{"pad":"`
	tail := `"}}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("size %d too small", n)
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

func TestRefusedRequests(t *testing.T) {
	h := start(t)
	bigBatch := func() []byte {
		// 20 events of 30 000 bytes: each under 32 KB, together over 500 KB.
		var parts []string
		for i := 0; i < 20; i++ {
			parts = append(parts, string(trackOfSize(t, fmt.Sprintf("big-%d", i), 30000)))
		}
		return []byte(`{"batch":[` + strings.Join(parts, ",") + `]}`)
	}()
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 16<<20)) // 16 MiB of spaces
	if len(bomb) > 32<<10 {
		t.Fatalf("bomb is %d bytes compressed, want a small one", len(bomb))
	}
	good := []byte(`{"messageId":"m1","userId":"u1","event":"E"}`)

	cases := []struct {
		name   string
		path   string
		key    string
		body   []byte
		status int
		want   string // in the error message
	}{
		{"bad JSON", "/v1/track", keyWeb, []byte(`{"userId":`), 400, "not a JSON object"},
		{"JSON array for a single call", "/v1/track", keyWeb, []byte(`[1,2]`), 400, "not a JSON object"},
		{"trailing data", "/v1/track", keyWeb, []byte(`{"userId":"u1","event":"E"} {}`), 400, "trailing data"},
		// json.Decoder's More is false before a "}" or "]": these passed.
		{"trailing object after a stray brace", "/v1/track", keyWeb, []byte(`{"userId":"u1","event":"E"}}{"x":1}`), 400, "trailing data"},
		{"trailing bracket", "/v1/track", keyWeb, []byte(`{"userId":"u1","event":"E"}]`), 400, "trailing data"},
		{"trailing data after a batch", "/v1/batch", keyWeb, []byte(`{"batch":[{"type":"track","userId":"u","event":"E"}]}}{"x":1}`), 400, "not a JSON object"},
		{"batch without batch array", "/v1/batch", keyWeb, []byte(`{"events":[]}`), 400, `no "batch" array`},
		{"batch that is not an array", "/v1/batch", keyWeb, []byte(`{"batch":{}}`), 400, "must be an array"},
		{"batch item not an object", "/v1/batch", keyWeb, []byte(`{"batch":[{"type":"track","userId":"u","event":"E"},7]}`), 400, "batch[1]: not a JSON object"},
		{"missing key", "/v1/track", "", good, 401, "no write key"},
		{"wrong key", "/v1/track", "wk_nope", good, 401, "unknown write key"},
		{"wrong key in body", "/v1/track", "", []byte(`{"writeKey":"nope","userId":"u1","event":"E"}`), 401, "unknown write key"},
		{"not Basic auth", "/v1/track", "", good, 401, "HTTP Basic"},
		{"event over 32 KB", "/v1/track", keyWeb, trackOfSize(t, "big", 32<<10+1), 400, "over the event limit of 32768 bytes"},
		{"event over 32 KB in a batch", "/v1/batch", keyWeb, []byte(`{"batch":[` + string(trackOfSize(t, "ok", 100)) + `,` + string(trackOfSize(t, "big", 32<<10+1)) + `]}`), 400, "batch[1]: event is 32769 bytes, over the per-event limit of 32768 bytes"},
		{"batch over 500 KB", "/v1/batch", keyWeb, bigBatch, 400, "over the batch limit of 512000 bytes"},
		{"bad gzip stream", "/v1/track", keyWeb, []byte("this is not gzip"), 400, "not a valid gzip stream"},
		{"truncated gzip stream", "/v1/track", keyWeb, gzipped(t, good)[:20], 400, "not a valid gzip stream"},
		{"gzip bomb", "/v1/batch", keyWeb, bomb, 400, "decompresses to over the batch limit of 512000 bytes"},
		{"unsupported encoding", "/v1/track", keyWeb, good, 415, "not supported"},
		{"type disagrees with path", "/v1/identify", keyWeb, []byte(`{"type":"track","messageId":"m1","userId":"u1","event":"E"}`), 400, `field type: type "track" does not match`},
		{"invalid event", "/v1/track", keyWeb, []byte(`{"messageId":"m1","event":"E"}`), 400, "field userId: neither userId nor anonymousId is set"},
		{"bad timestamp", "/v1/track", keyWeb, []byte(`{"messageId":"m1","userId":"u","event":"E","timestamp":"yesterday"}`), 400, "field timestamp: not an ISO-8601 time"},
		{"messageId with a newline", "/v1/track", keyWeb, []byte(`{"messageId":"a\r\nNats-Expected-Stream: X","userId":"u","event":"E"}`), 400, "field messageId: contains control characters"},
		{"messageId not a string", "/v1/track", keyWeb, []byte(`{"messageId":{"a":1},"userId":"u","event":"E"}`), 400, "field messageId: must be a string"},
		{"too deep", "/v1/track", keyWeb, []byte(`{"messageId":"m","userId":"u","event":"E","properties":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`), 400, "nesting is deeper"},
		{"unknown endpoint", "/v1/events", keyWeb, good, 404, "no endpoint /v1/events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			switch c.name {
			case "bad gzip stream", "truncated gzip stream", "gzip bomb":
				headers = []string{"Content-Encoding", "gzip"}
			case "unsupported encoding":
				headers = []string{"Content-Encoding", "br"}
			case "not Basic auth":
				headers = []string{"Authorization", "Bearer " + keyWeb}
			}
			r := h.post(c.path, c.key, c.body, headers...)
			if r.status != c.status {
				t.Fatalf("status %d %s, want %d", r.status, r.raw, c.status)
			}
			if r.body["success"] != false {
				t.Errorf("body %s: want a JSON error with success false", r.raw)
			}
			if msg, _ := r.body["error"].(string); !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to say %q", msg, c.want)
			}
		})
	}
	if got := h.stored(); len(got) != 0 {
		t.Errorf("refused requests stored %d events", len(got))
	}
}

func TestOversizeBodyIsRefusedWithoutReadingIt(t *testing.T) {
	h := start(t)
	// The body announces 600 KB but the reader stops after 1 KB: were the
	// server to read it, the request would hang until the client's timeout.
	stalled := blockingReader(make(chan struct{}))
	defer close(stalled)
	body := io.MultiReader(strings.NewReader(`{"batch":[`), strings.NewReader(strings.Repeat(" ", 1000)), stalled)
	req, err := http.NewRequest(http.MethodPost, h.url+"/v1/batch", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 600 << 10
	req.SetBasicAuth(keyWeb, "")
	r := h.do(req)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "request body is 614400 bytes, over the batch limit of 512000 bytes") {
		t.Fatalf("status %d %s, want 400 naming the size and the limit", r.status, r.raw)
	}
}

// blockingReader yields no data until closed, like a client still uploading.
type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) {
	<-b
	return 0, io.ErrUnexpectedEOF
}

func TestChunkedBodyOverTheLimitIsRefused(t *testing.T) {
	h := start(t)
	// No Content-Length: the bound applies while reading.
	big := append([]byte(`{"batch":[`), bytes.Repeat([]byte(" "), 600<<10)...)
	big = append(big, []byte(`]}`)...)
	req, err := http.NewRequest(http.MethodPost, h.url+"/v1/batch", io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.SetBasicAuth(keyWeb, "")
	r := h.do(req)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "over the batch limit of 512000 bytes") {
		t.Fatalf("status %d %s, want 400 over the batch limit", r.status, r.raw)
	}
}

func TestGzipBodiesAreAccepted(t *testing.T) {
	h := start(t)
	r := h.post("/v1/track", keyWeb, gzipped(t, []byte(`{"messageId":"gz-1","userId":"u1","event":"Zipped"}`)), "Content-Encoding", "gzip")
	if r.status != http.StatusOK {
		t.Fatalf("single: status %d %s", r.status, r.raw)
	}
	batch := gzipped(t, []byte(`{"batch":[{"type":"track","messageId":"gz-2","userId":"u1","event":"Zipped"}]}`))
	r = h.post("/v1/import", keyWeb, batch, "Content-Encoding", "gzip")
	if r.status != http.StatusOK {
		t.Fatalf("batch: status %d %s", r.status, r.raw)
	}
	got := h.stored()
	if len(got) != 2 || got[0].msgID != "gz-1" || got[1].msgID != "gz-2" {
		t.Fatalf("stored %+v", got)
	}
}

func TestEventOfExactly32KBIsAccepted(t *testing.T) {
	h := start(t)
	h.mustPost("/v1/track", keyWeb, trackOfSize(t, "edge", 32<<10))
	h.mustPost("/v1/batch", keyWeb, []byte(`{"batch":[`+string(trackOfSize(t, "edge-b", 32<<10))+`]}`))
	if got := h.stored(); len(got) != 2 {
		t.Fatalf("stored %d events, want 2", len(got))
	}
}

func TestBatchWithAnInvalidEventPublishesNone(t *testing.T) {
	h := start(t)
	body := []byte(`{"batch":[
		{"type":"track","messageId":"v1","userId":"u1","event":"Fine"},
		{"type":"track","messageId":"v2","event":"No user"},
		{"type":"group","messageId":"v3","userId":"u1"},
		{"type":"track","messageId":"v4","userId":"u1","event":"Fine too"}]}`)
	r := h.post("/v1/batch", keyWeb, body)
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d %s, want 400", r.status, r.raw)
	}
	msg, _ := r.body["error"].(string)
	if !strings.Contains(msg, "batch[1]: field userId") || !strings.Contains(msg, "none of the batch was published") {
		t.Errorf("error %q: want the first bad index, its field, and that nothing was published", msg)
	}
	errs, _ := r.body["errors"].([]any)
	if len(errs) != 2 {
		t.Fatalf("errors %v, want the two invalid events", r.body["errors"])
	}
	second := errs[1].(map[string]any)
	if second["index"] != float64(2) || second["field"] != "groupId" {
		t.Errorf("second error %v, want index 2 field groupId", second)
	}
	if got := h.stored(); len(got) != 0 {
		t.Fatalf("stored %d events: a batch with an invalid event must publish none", len(got))
	}
	if n := h.counter("switchyard_ingest_events_total", map[string]string{"source": "web", "result": "rejected"}); n != 4 {
		t.Errorf("rejected count %v, want 4", n)
	}
}

func TestOnlyPOSTIsAllowed(t *testing.T) {
	h := start(t)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, h.url+"/v1/track", nil)
		r := h.do(req)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", method, r.status)
		}
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") {
			t.Errorf("%s: Allow %q, want POST", method, allow)
		}
	}
}

func TestCORSPreflightIsAnswered(t *testing.T) {
	h := start(t)
	req, _ := http.NewRequest(http.MethodOptions, h.url+"/v1/batch", nil)
	req.Header.Set("Origin", "https://shop.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	r := h.do(req)
	if r.status != http.StatusNoContent {
		t.Fatalf("status %d, want 204", r.status)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("headers %v", r.header)
	}
}

func TestBatchContextThatSwellsAnEventPastTheLimitIsRefused(t *testing.T) {
	h := start(t)
	// Each part is under 32 KB as sent; merged, the event is not.
	body := []byte(`{"context":{"blob":"` + strings.Repeat("c", 20000) + `"},"batch":[` + string(trackOfSize(t, "swell", 20000)) + `]}`)
	r := h.post("/v1/batch", keyWeb, body)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "batch[0]: with the batch's context") {
		t.Fatalf("status %d %s, want 400 naming batch[0] and the merged size", r.status, r.raw)
	}
	if got := h.stored(); len(got) != 0 {
		t.Fatalf("stored %d events", len(got))
	}
}
