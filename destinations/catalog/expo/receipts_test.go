package expo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// receiptServer is an Expo-like getReceipts endpoint: it refuses more than
// 1,000 ids, answers the receipts it has and leaves the others out.
type receiptServer struct {
	*httptest.Server
	mu       sync.Mutex
	sizes    []int
	auth     []string
	receipts map[string]string // id -> raw receipt JSON
	failOn   string            // an id whose chunk gets a 500
}

func newReceiptServer(t *testing.T) *receiptServer {
	rs := &receiptServer{receipts: map[string]string{}}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			IDs []string `json:"ids"`
		}
		if r.URL.Path != "/--/api/v2/push/getReceipts" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"errors":[{"code":"VALIDATION_ERROR"}]}`, http.StatusBadRequest)
			return
		}
		rs.mu.Lock()
		rs.sizes = append(rs.sizes, len(req.IDs))
		rs.auth = append(rs.auth, r.Header.Get("Authorization"))
		rs.mu.Unlock()
		if len(req.IDs) > ReceiptChunk {
			http.Error(w, `{"errors":[{"code":"VALIDATION_ERROR","message":"too many ids"}]}`, http.StatusBadRequest)
			return
		}
		var parts []string
		for _, id := range req.IDs {
			if id == rs.failOn {
				http.Error(w, `{"errors":[{"code":"INTERNAL_SERVER_ERROR"}]}`, http.StatusInternalServerError)
				return
			}
			if rec, ok := rs.receipts[id]; ok {
				parts = append(parts, fmt.Sprintf("%q:%s", id, rec))
			}
		}
		fmt.Fprintf(w, `{"data":{%s}}`, strings.Join(parts, ","))
	}))
	t.Cleanup(rs.Close)
	return rs
}

func TestReceiptsAreFetchedAThousandAtATimeWithAnOutcomePerTicket(t *testing.T) {
	rs := newReceiptServer(t)
	var ids []string
	for i := 0; i < 2500; i++ {
		id := fmt.Sprintf("t-%04d", i)
		ids = append(ids, id)
		switch {
		case i == 7:
			rs.receipts[id] = `{"status":"error","message":"\"ExponentPushToken[abc]\" is not a registered push notification recipient","details":{"error":"DeviceNotRegistered"}}`
		case i == 1500:
			rs.receipts[id] = `{"status":"error","message":"Too many","details":{"error":"MessageRateExceeded"}}`
		case i == 2499:
			// no receipt yet
		default:
			rs.receipts[id] = `{"status":"ok"}`
		}
	}
	ids = append(ids, "t-0001", "") // a repeat and an empty id are asked once and never
	c := &ReceiptChecker{URL: rs.URL + "/--/api/v2/push/getReceipts", AccessToken: "expo-token"}
	got, err := c.Check(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rs.sizes) != "[1000 1000 500]" {
		t.Errorf("chunks %v, want [1000 1000 500]", rs.sizes)
	}
	for _, a := range rs.auth {
		if a != "Bearer expo-token" {
			t.Fatalf("Authorization %q", a)
		}
	}
	if len(got) != 2500 {
		t.Fatalf("%d outcomes, want 2500", len(got))
	}
	if o := got["t-0000"]; o.Class != destinations.OK || o.Pending || o.DeadToken {
		t.Errorf("ok receipt: %+v", o)
	}
	if o := got["t-0007"]; o.Class != destinations.Permanent || !o.DeadToken || o.Code != DeviceNotRegistered || !strings.Contains(o.Message, "remove it") {
		t.Errorf("dead token receipt: %+v", o)
	}
	if o := got["t-1500"]; o.Class != destinations.Retryable || o.DeadToken {
		t.Errorf("rate-limited receipt: %+v", o)
	}
	if o := got["t-2499"]; !o.Pending {
		t.Errorf("a ticket without a receipt is not pending: %+v", o)
	}
}

func TestAFailedReceiptChunkIsReportedAndTheOthersKept(t *testing.T) {
	rs := newReceiptServer(t)
	var ids []string
	for i := 0; i < 1200; i++ {
		id := fmt.Sprintf("t-%04d", i)
		ids = append(ids, id)
		rs.receipts[id] = `{"status":"ok"}`
	}
	rs.failOn = "t-1100"
	got, err := (&ReceiptChecker{URL: rs.URL + "/--/api/v2/push/getReceipts"}).Check(context.Background(), ids)
	if err == nil || !strings.Contains(err.Error(), "receipts 1001-1200 of 1200: HTTP 500") {
		t.Fatalf("error %v, want the failed chunk named", err)
	}
	if len(got) != 1000 || got["t-0999"].Class != destinations.OK {
		t.Fatalf("%d outcomes kept, want the first chunk's 1000", len(got))
	}
	if _, ok := got["t-1100"]; ok {
		t.Error("an id of the failed chunk has an outcome")
	}
	if rs.auth[0] != "" {
		t.Errorf("an Authorization header was sent without an access token: %q", rs.auth[0])
	}
}

// The registered handler reads tickets in message order, names each
// message's token, and asks for receipts with the definition's headers,
// truncating the tokens Expo's messages quote.
func TestTheExpoReceiptsHandler(t *testing.T) {
	h, ok := destinations.ReceiptsHandler("expo")
	if !ok {
		t.Fatal("no expo receipts handler")
	}
	tickets := h.Tickets(200, []byte(`{"data":[{"status":"ok","id":"a"},{"status":"error","details":{"error":"DeviceNotRegistered"}},{"status":"ok","id":"c"},{"status":"ok","id":"extra"}]}`), 3)
	if fmt.Sprint(tickets) != "[a  c]" {
		t.Errorf("tickets %q", tickets)
	}
	if h.Tickets(200, []byte(`not json`), 2) != nil || h.Tickets(500, []byte(`{"data":[{"status":"ok","id":"a"}]}`), 1) != nil {
		t.Error("tickets read from an answer that has none")
	}
	if r := h.Recipient([]byte(`{"to":"ExponentPushToken[abc]","title":"x"}`)); r != "ExponentPushToken[abc]" {
		t.Errorf("recipient %q", r)
	}
	if r := h.Recipient([]byte(`{"to":["ExpoPushToken[a]","ExpoPushToken[b]"]}`)); r != "ExpoPushToken[a]" {
		t.Errorf("recipient of a list %q", r)
	}

	rs := newReceiptServer(t)
	rs.receipts["d"] = `{"status":"error","message":"\"ExponentPushToken[abcdefghijklmnop]\" is not a registered push notification recipient","details":{"error":"DeviceNotRegistered"}}`
	rs.receipts["o"] = `{"status":"ok"}`
	rs.receipts["x"] = `{"status":"error","message":"what"}`
	got, err := h.Check(context.Background(), destinations.ReceiptTarget{
		URL: rs.URL + "/--/api/v2/push/getReceipts", Header: http.Header{"Authorization": {"Bearer k"}, "X-Empty": {""}},
	}, []string{"d", "o", "x", "p"})
	if err != nil {
		t.Fatal(err)
	}
	if rs.auth[0] != "Bearer k" {
		t.Errorf("Authorization %q", rs.auth[0])
	}
	if r := got["d"]; !r.DeadRecipient || r.Code != DeviceNotRegistered || r.OK() || !strings.Contains(r.Message, "ExponentPushToken[abcd…mnop]") || strings.Contains(r.Message, "abcdefghijklmnop") {
		t.Errorf("dead token receipt %+v", r)
	}
	if r := got["o"]; !r.OK() {
		t.Errorf("ok receipt %+v", r)
	}
	if r := got["x"]; r.OK() || r.Code != "UnknownError" {
		t.Errorf("error receipt without a code: %+v", r)
	}
	if r := got["p"]; !r.Pending || r.OK() {
		t.Errorf("missing receipt %+v", r)
	}
	if fmt.Sprint(h.Codes()) != "[DeviceNotRegistered MessageTooBig MessageRateExceeded MismatchSenderId InvalidCredentials]" {
		t.Errorf("codes %v", h.Codes())
	}
}
