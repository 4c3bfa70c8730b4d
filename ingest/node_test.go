package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/nodetool"
	"github.com/switchyard/switchyard/mappings"
)

// nodeReport is what nodetest/send.mjs prints.
type nodeReport struct {
	Delivered []struct {
		Type      string `json:"type"`
		MessageID string `json:"messageId"`
	} `json:"delivered"`
	Requests []int    `json:"requests"` // events per HTTP request
	Statuses []int    `json:"statuses"`
	Failures []string `json:"failures"`
}

// TestAnalyticsNodeClient sends identify, track, page and a batch with the
// real @segment/analytics-node, pointed at the intake with nothing changed
// but host, and checks what arrives in NATS.
func TestAnalyticsNodeClient(t *testing.T) {
	tools := nodetool.Require(t, "run @segment/analytics-node against the intake")
	dir, err := filepath.Abs("nodetest")
	if err != nil {
		t.Fatal(err)
	}
	tools.Install(t, dir)

	h := start(t, withRealClock()) // the client stamps real times
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools.Node, "send.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SWITCHYARD_HOST="+h.url, "SWITCHYARD_WRITE_KEY="+keyWeb)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep nodeReport
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("node send.mjs: %v\nstdout: %s\nstderr: %s", runErr, stdout.String(), stderr.String())
	}
	if runErr != nil || len(rep.Failures) > 0 {
		t.Fatalf("node send.mjs: %v: failures %q\nstderr: %s", runErr, rep.Failures, stderr.String())
	}
	if want := []int{1, 1, 1, 4}; !equalInts(rep.Requests, want) {
		t.Errorf("events per request %v, want %v (three single sends, then one batch of four)", rep.Requests, want)
	}
	for _, s := range rep.Statuses {
		if s != 200 {
			t.Errorf("HTTP statuses %v, want all 200", rep.Statuses)
			break
		}
	}

	stored := map[string]storedMsg{}
	for _, m := range h.stored() {
		stored[m.msgID] = m
	}
	if len(stored) != len(rep.Delivered) || len(stored) != 7 {
		t.Fatalf("NATS holds %d events, the client delivered %d, want 7", len(stored), len(rep.Delivered))
	}
	byType := map[string]map[string]any{}
	for _, d := range rep.Delivered {
		m, ok := stored[d.MessageID]
		if !ok {
			t.Errorf("%s %s: delivered but not in NATS", d.Type, d.MessageID)
			continue
		}
		if want := "events.web." + d.Type; m.subject != want {
			t.Errorf("%s %s: subject %s, want %s", d.Type, d.MessageID, m.subject, want)
		}
		if m.event["messageId"] != d.MessageID {
			t.Errorf("%s: body messageId %v, header %s", d.Type, m.event["messageId"], d.MessageID)
		}
		for _, f := range []string{"receivedAt", "timestamp", "originalTimestamp", "sentAt"} {
			if s, _ := m.event[f].(string); s == "" {
				t.Errorf("%s: no %s in %v", d.Type, f, m.event)
			}
		}
		lib, _ := m.event["context"].(map[string]any)["library"].(map[string]any)
		if lib["name"] != "@segment/analytics-node" {
			t.Errorf("%s: context.library %v", d.Type, lib)
		}
		// What the intake stored is what the router will decode.
		data, _ := json.Marshal(m.event)
		if _, err := mappings.Decode(data, time.Now(), mappings.Limits{MaxBytes: 64 << 10}); err != nil {
			t.Errorf("%s: the router would refuse it: %v", d.Type, err)
		}
		if d.Type == "track" && m.event["userId"] == nil {
			byType["track:anonymous"] = m.event
			continue
		}
		byType[d.Type] = m.event
	}

	order := byType["track"]
	props, _ := order["properties"].(map[string]any)
	products, _ := props["products"].([]any)
	if order["event"] != "Order Completed" || order["userId"] != "user-42" || props["order_id"] != "ord-1001" || props["currency"] != "EUR" || len(products) != 2 {
		t.Fatalf("Order Completed arrived as %v", order)
	}
	if p := products[0].(map[string]any); p["sku"] != "TSHIRT-BLK-M" || p["price"] != 19.5 || p["quantity"] != float64(2) {
		t.Errorf("products[0] %v", p)
	}
	if traits, _ := byType["identify"]["traits"].(map[string]any); traits["email"] != "ada@example.com" {
		t.Errorf("identify traits %v", byType["identify"]["traits"])
	}
	if byType["page"]["name"] != "Quickstart" || byType["page"]["category"] != "Docs" {
		t.Errorf("page %v", byType["page"])
	}
	if byType["group"]["groupId"] != "acme" || byType["alias"]["previousId"] != "anon-7" || byType["screen"]["name"] != "Cart" {
		t.Errorf("batch events: group %v, alias %v, screen %v", byType["group"], byType["alias"], byType["screen"])
	}
	if byType["track:anonymous"]["anonymousId"] != "anon-7" {
		t.Errorf("anonymous track %v", byType["track:anonymous"])
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
