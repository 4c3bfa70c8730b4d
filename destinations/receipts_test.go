package destinations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// testReceipts is a receipts handler whose tickets are the answer's
// comma-separated words ("-" for none).
type testReceipts struct{}

func (testReceipts) Tickets(status int, body []byte, items int) []string {
	out := strings.Split(string(body), ",")
	for i := range out {
		if out[i] == "-" {
			out[i] = ""
		}
	}
	return out[:min(len(out), items)]
}
func (testReceipts) Recipient([]byte) string { return "" }
func (testReceipts) Codes() []string         { return nil }
func (testReceipts) Check(context.Context, ReceiptTarget, []string) (map[string]Receipt, error) {
	return nil, errors.New("not used")
}

func init() { RegisterReceipts("test-receipts", testReceipts{}) }

// An unknown receipts handler, a missing URL and a delay that is not one
// are refused at load, each with its file:line.
func TestCatalogRefusesBadReceiptsWithTheirLines(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/good/definition.yaml": {Data: []byte("name: good\ntitle: Good\nreceipts:\n  handler: test-receipts\n  url: https://x.test/r\n  delay: 1m\n" + noDeletion)},
		"catalog/typo/definition.yaml": {Data: []byte("name: typo\ntitle: Typo\nreceipts:\n  handler: expoo\n  url: https://x.test/r\n" + noDeletion)},
		"catalog/bad/definition.yaml":  {Data: []byte("name: bad\ntitle: Bad\nreceipts:\n  handler: test-receipts\n  delay: soon\n  expiry: 1m\n" + noDeletion)},
		"catalog/late/definition.yaml": {Data: []byte("name: late\ntitle: Late\nreceipts:\n  handler: test-receipts\n  url: https://x.test/r\n  delay: 2h\n  expiry: 1h\n" + noDeletion)},
	}
	defs, err := loadCatalog(fsys)
	if err == nil {
		t.Fatal("definitions with bad receipts loaded without error")
	}
	for _, want := range []string{
		`catalog/typo/definition.yaml:4: receipts.handler "expoo" is not a registered receipts handler (registered: `,
		`catalog/bad/definition.yaml:5: receipts.delay "soon" is not a positive duration`,
		`catalog/bad/definition.yaml:3: receipts.url is empty`,
		`catalog/late/definition.yaml:7: receipts.expiry 1h0m0s is not after receipts.delay 2h0m0s`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, ok := defs["good"]; !ok {
		t.Error("the valid definition was not kept")
	}
	for _, name := range []string{"typo", "bad", "late"} {
		if _, ok := defs[name]; ok {
			t.Errorf("%s was kept", name)
		}
	}
	d, _, e, err := defs["good"].Receipts.Timing()
	if err != nil || d.Minutes() != 1 || e != DefaultReceiptExpiry {
		t.Errorf("timing %s %s %v, want 1m and the default expiry", d, e, err)
	}
}

func TestRegisterReceiptsRefusesATakenName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second handler under a taken name was accepted")
		}
	}()
	RegisterReceipts("test-receipts", testReceipts{})
}

// Each delivered item of a batch gets its own ticket; a failed item none,
// and a single request its ticket too.
func TestTicketsReachTheirItems(t *testing.T) {
	answer := "t-0,-,t-2"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, answer)
	}))
	defer srv.Close()
	s, err := NewSender(SenderConfig{
		Name: "tickets", Tickets: testReceipts{}.Tickets,
		ItemErrors: func(status int, body []byte, items int) []ItemError {
			return []ItemError{{Index: 1, Class: Permanent, Message: "no ticket"}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(BatchSpec{MaxItems: 3}, s.Send)
	var mu sync.Mutex
	got := map[int]Result{}
	var wg sync.WaitGroup
	wg.Add(3)
	for i := range 3 {
		b.Add(&Request{Method: "POST", URL: srv.URL, Body: []byte(`{"a":1}`)}, func(r Result) {
			mu.Lock()
			got[i] = r
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if got[0].Ticket != "t-0" || got[2].Ticket != "t-2" || got[1].Ticket != "" || got[1].Class != Permanent {
		t.Errorf("tickets %q %q %q (item 1 %s)", got[0].Ticket, got[1].Ticket, got[2].Ticket, got[1].Class)
	}
	if got[0].Tickets != nil {
		t.Error("an item's result still holds the batch's tickets")
	}
	answer = "t-solo"
	if r := s.Send(context.Background(), &Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`), Items: 1}); r.Ticket != "t-solo" {
		t.Errorf("single request ticket %q", r.Ticket)
	}
	one := NewBatcher(BatchSpec{MaxItems: 1}, s.Send)
	done := make(chan Result, 1)
	one.Add(&Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`)}, func(r Result) { done <- r })
	if r := <-done; r.Ticket != "t-solo" {
		t.Errorf("batch of one: ticket %q", r.Ticket)
	}
}
