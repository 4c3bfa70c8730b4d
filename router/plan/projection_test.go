package plan_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// projectionEvents are every catalog golden case's event, the events of
// the consent and integrations tests, and the benchmark's mix.
func projectionEvents(t *testing.T) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "destinations", "catalog", "*", "testdata", "*", "event.json"))
	must(t, err)
	if len(files) < 50 {
		t.Fatalf("found %d golden events: the catalog's testdata moved?", len(files))
	}
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		out = append(out, data)
	}
	g := workload.New(3)
	for i := range 30 {
		_, data := g.Next('P', i)
		out = append(out, data)
	}
	base := `"type":"track","messageId":"m-1","userId":"u-1","event":"Signed Up"`
	for _, s := range []string{
		`{` + base + `,"context":{"consent":{"categoryPreferences":{"Marketing":true,"Analytics":true}}}}`,
		`{` + base + `,"context":{"consent":{"categoryPreferences":{"Marketing":true,"Analytics":false}}}}`,
		`{` + base + `,"context":{"consent":{"categoryPreferences":{}}}}`,
		`{` + base + `,"integrations":{"All":false,"Webhook":true}}`,
		`{` + base + `,"integrations":{"All":false}}`,
		`{` + base + `,"integrations":{"webhooks":false}}`,
		`{"type":"track","messageId":"m-2","anonymousId":"a-1","event":"E"}`,
		`{"type":"track","messageId":"m-3","userId":"u-3","event":"E","timestamp":"","properties":{"a":1}}`,
		`{"type":"track","messageId":"m-4","userId":"u-4","event":"E","receivedAt":"2026-01-02T03:04:05Z","sentAt":"2026-01-02T03:04:04Z","timestamp":"2026-01-02T03:04:00Z"}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestProjectedEventsRouteAsWholeOnes: a plan that reads part of an event
// routes every event decoded in part exactly as the whole event, every
// request byte for byte; and the plans that read more decode it whole.
func TestProjectedEventsRouteAsWholeOnes(t *testing.T) {
	parts := map[string]string{
		"forward":         "type: webhook\nsettings:\n  url: https://hooks.example.com/in\n",
		"forward batched": "type: webhook\nsettings:\n  url: https://hooks.example.com/in\ndelivery:\n  batch: {max_items: 10}\n",
		"forward sampled": "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nsample: 0.5\n",
		"forward consent": consentDest,
	}
	wholes := map[string]string{
		"filter":       "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nfilter: properties?.a == 1\n",
		"block_fields": "type: webhook\nsettings:\n  url: https://hooks.example.com/in\nblock_fields: [properties.a]\n",
		"actions":      workload.MappedDestination("web", "http://127.0.0.1:9/sink", 16, 256),
	}
	for name, dest := range wholes {
		if pr := planFromText(t, dest).Projection(); pr != nil {
			t.Errorf("%s: the plan reads %s, want the whole event", name, pr)
		}
	}
	events := projectionEvents(t)
	now := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	for name, dest := range parts {
		p := planFromText(t, dest)
		keep := p.Projection()
		if keep == nil || keep.Keeps("properties") || keep.Keeps("traits") || keep.Keeps("context") != (name == "forward consent") {
			t.Fatalf("%s: the plan reads %s", name, keep)
		}
		projected := 0
		for _, data := range events {
			whole, errWhole := mappings.Decode(data, now, p.Limits())
			part, err := mappings.DecodeProjected(data, now, p.Limits(), keep)
			if (err == nil) != (errWhole == nil) {
				t.Fatalf("%s: %s: Decode %v, DecodeProjected %v", name, data, errWhole, err)
			}
			if err != nil {
				continue
			}
			if part.Projection() != nil {
				projected++
			}
			got := p.Route(part, "web", data, &mappings.Env{}, plan.RouteOptions{Trace: true})
			want := p.Route(whole, "web", data, &mappings.Env{}, plan.RouteOptions{Trace: true})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %s routes differently decoded in part:\n%+v\nwhole:\n%+v", name, data, got, want)
			}
		}
		if projected < len(events)/2 {
			t.Fatalf("%s: %d of %d events decoded in part: the projection is not exercised", name, projected, len(events))
		}
	}
}

// TestAnEventDecodedInPartFailsAPlanThatReadsMore: routing an event that
// lacks what the plan reads is refused with a failure, never sent.
func TestAnEventDecodedInPartFailsAPlanThatReadsMore(t *testing.T) {
	p := planFromText(t, workload.MappedDestination("web", "http://127.0.0.1:9/sink", 16, 256))
	data := workload.TypicalOrder()
	part, err := mappings.DecodeProjected(data, time.Now(), p.Limits(), mappings.Project("integrations"))
	must(t, err)
	rt := p.Route(part, "web", data, &mappings.Env{}, plan.RouteOptions{})
	if len(rt.Requests) != 0 || len(rt.Failures) != 1 || !strings.Contains(rt.Failures[0].Err.Error(), "decoded in part") {
		t.Fatalf("routing: %+v", rt)
	}
	whole, err := mappings.Decode(data, time.Now(), p.Limits())
	must(t, err)
	if rt := p.Route(whole, "web", data, &mappings.Env{}, plan.RouteOptions{}); len(rt.Requests) != 1 {
		t.Fatalf("the whole event: %+v", rt)
	}
}

// TestBatchedForwardsShareAHeaderAndEachBatchSignsItsOwn: the events a
// batching webhook forwards share the plan's header, and each batch is
// signed on a copy: two batches carry two ids and two signatures, and
// the shared header carries neither.
func TestBatchedForwardsShareAHeaderAndEachBatchSignsItsOwn(t *testing.T) {
	got := make(chan http.Header, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "destinations", "d.yaml"),
		[]byte("type: webhook\nsettings:\n  url: "+srv.URL+"\n  secret: ${HOOK_SECRET}\ndelivery:\n  batch: {max_items: 1}\n"), 0o644))
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a secret of 24 bytes...."))
	cfg, diags := config.Load(dir, config.Options{Lookup: func(string) (string, bool) { return secret, true }})
	must(t, diags.Err())
	plans, diags := plan.Build(cfg)
	must(t, diags.Err())
	p := plans["d"]
	if p == nil {
		t.Fatalf("plans: %v", plans)
	}
	s, err := destinations.NewSender(p.SenderConfig())
	must(t, err)
	var shared http.Header
	var wg sync.WaitGroup
	b := destinations.NewBatcher(*p.Batches()[0], func(ctx context.Context, r *destinations.Request) destinations.Result {
		return p.Send(ctx, s, r)
	})
	for i, data := range []string{
		`{"type":"track","messageId":"m-1","userId":"u-1","event":"A"}`,
		`{"type":"track","messageId":"m-2","userId":"u-1","event":"B"}`,
	} {
		ev, err := mappings.DecodeProjected([]byte(data), time.Now(), p.Limits(), p.Projection())
		must(t, err)
		rt := p.Route(ev, "web", []byte(data), &mappings.Env{}, plan.RouteOptions{})
		if len(rt.Requests) != 1 || rt.Requests[0].Batch == nil {
			t.Fatalf("routing: %+v", rt)
		}
		h := rt.Requests[0].Req.Header
		if i == 1 && reflect.ValueOf(h).UnsafePointer() != reflect.ValueOf(shared).UnsafePointer() {
			t.Fatal("the two forwarded events have headers of their own: the test would prove nothing")
		}
		shared = h
		wg.Add(1)
		b.Add(rt.Requests[0].Req, func(res destinations.Result) {
			defer wg.Done()
			if res.Err != nil {
				t.Errorf("batch: %v", res.Err)
			}
		})
	}
	wg.Wait()
	must(t, b.Close(context.Background()))
	close(got)
	var sent []http.Header
	for h := range got {
		sent = append(sent, h)
	}
	if len(sent) != 2 {
		t.Fatalf("%d requests reached the tool, want 2 batches of one: %v", len(sent), sent)
	}
	first, second := sent[0], sent[1]
	for _, k := range []string{"Webhook-Id", "Webhook-Signature", "Webhook-Timestamp"} {
		if first.Get(k) == "" || shared.Get(k) != "" {
			t.Fatalf("%s: the batch has %q, the shared header %q", k, first.Get(k), shared.Get(k))
		}
	}
	if first.Get("Webhook-Id") == second.Get("Webhook-Id") || first.Get("Webhook-Signature") == second.Get("Webhook-Signature") {
		t.Fatalf("two batches, one id or signature: %v / %v", first, second)
	}
}
