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
