package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/router"
)

// Phase M: the embedded shape under a malformed flood (issue 12). One
// `switchyard serve` with its own embedded nats-server (nats.url unset, the
// JetStream store in its --data directory) and two forwarding webhooks
// reading one source. -flood-garbage unparseable events of about 7 KB (an
// unterminated JSON object: each is `invalid` for both destinations and is
// dead-lettered once) and -flood-valid valid track events of about 1 KB are
// published in a seeded random order. The phase ends when both
// destinations settled every event; the ledger must then hold: per
// destination, delivered = valid (the sink saw every one), invalid =
// garbage, nothing filtered, unmatched or dead-lettered, nothing expired.
// It reports the process's peak RSS (router + nats-server, one process),
// the drain time and the data directory's disk use.

// floodResult is phase M's figures.
type floodResult struct {
	garbage, valid int
	published      int64 // bytes of event data
	publish, drain time.Duration
	peakSampled    int64 // KiB, VmRSS every 100 ms
	hwm            int64 // KiB, VmHWM at the end
	lastRSS        int64 // KiB, VmRSS once drained
	diskUse        int64 // bytes: the data directory's allocated blocks
	eventsBytes    int64 // the EVENTS stream's bytes
	dlqBytes       int64 // the DLQ stream's bytes
	dlqMsgs        uint64
	outcomes       map[string]map[string]float64
	cpu            time.Duration
	others         float64
	env            string // GOGC / GOMEMLIMIT passed to the child, if set
}

var floodDests = []string{"flood-a", "flood-b"}

// floodGarbage is the draft's garbage: a track event whose JSON never
// closes, padded to about 7 KB.
func floodGarbage(pad string, i int) []byte {
	return []byte(`{"type":"track","messageId":"` + "g-M-" + strconv.Itoa(i) + `","junk":"` + pad + `"`)
}

// floodValid is a valid track event of about 1 KB whose messageId the
// sink counts.
func floodValid(pad string, seq int) []byte {
	return []byte(`{"type":"track","messageId":"` + workload.ID('M', seq) + `","userId":"u","event":"E","properties":{"p":"` + pad[:1000] + `"}}`)
}

func (b *bench) phaseM(ctx context.Context) error {
	if b.o.inprocess {
		return fmt.Errorf("phase M measures `serve` with its embedded nats-server as one process: drop -inprocess")
	}
	garbage, valid := b.o.floodGarbage, b.o.floodValid
	total := garbage + valid
	cfgDir := filepath.Join(b.dir, "config-M")
	dataDir := filepath.Join(b.dir, "data-M")
	admin, natsAddr := freeAddr(), freeAddr()
	if err := os.MkdirAll(filepath.Join(cfgDir, "destinations"), 0o755); err != nil {
		return err
	}
	// No nats.url: serve runs the embedded server (docs/deployment.md,
	// "Single node, embedded NATS"), at its defaults but the listener.
	global := fmt.Sprintf("nats:\n  embedded:\n    listen: %s\nadmin:\n  listen: %s\nlog:\n  level: warn\n", natsAddr, admin)
	if err := os.WriteFile(filepath.Join(cfgDir, "switchyard.yaml"), []byte(global), 0o644); err != nil {
		return err
	}
	var recs []*recorder
	for _, d := range floodDests {
		recs = append(recs, b.sink.record("M-"+d, valid, 200))
		if err := os.WriteFile(filepath.Join(cfgDir, "destinations", d+".yaml"), []byte(workload.ForwardingDestination("pm", b.sink.url("M-"+d))), 0o644); err != nil {
			return err
		}
	}
	res := &floodResult{garbage: garbage, valid: valid, outcomes: map[string]map[string]float64{}}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv(k); v != "" {
			res.env += fmt.Sprintf(" %s=%s", k, v)
		}
	}
	r, err := startChild(ctx, b.bin, cfgDir, dataDir, admin)
	if err != nil {
		return err
	}
	defer func() {
		if r != nil {
			r.stop()
		}
	}()
	nc, err := connectNATS(ctx, "nats://"+natsAddr)
	if err != nil {
		return fmt.Errorf("connecting to the embedded server: %w", err)
	}
	defer nc.nc.Close()

	sampler := sampleRSS(r)
	defer sampler.stop()

	// The draft's order: each event is garbage with probability
	// garbage/total, until one kind runs out.
	rnd := rand.New(rand.NewPCG(b.o.seed, 0xf100d))
	pad := strings.Repeat("z", 7000)
	left := [2]int{garbage, valid}
	seen := [2]int{}
	logf("phase M: publishing %d garbage and %d valid events to the embedded server", garbage, valid)
	load := startLoad(childCPU(r))
	t0, cpu0 := time.Now(), r.cpu()
	pub, err := nc.publish(ctx, total, func(i int) (string, []byte, string) {
		kind := 1
		if rnd.IntN(left[0]+left[1]) < left[0] {
			kind = 0
		}
		left[kind]--
		seq := seen[kind]
		seen[kind]++
		var data []byte
		id := "g-M-" + strconv.Itoa(seq)
		if kind == 0 {
			data = floodGarbage(pad, seq)
		} else {
			data, id = floodValid(pad, seq), workload.ID('M', seq)
		}
		res.published += int64(len(data))
		return "events.pm.track", data, id
	})
	if err != nil {
		return err
	}
	res.publish = pub
	logf("phase M: published %s MB in %s; waiting for both destinations to settle every event", num(float64(res.published)/1e6), pub.Round(time.Millisecond))

	// Settled: every destination's outcomes add up to total (retried is
	// not an outcome). Polled from /metrics: the figure is the drain time,
	// not the router's CPU.
	lastSum, lastChange := -1.0, time.Now()
	for {
		text, err := r.metrics()
		sum := 0.0
		if err == nil {
			for _, d := range floodDests {
				for _, o := range finalOutcomes {
					v, _ := metricValue(text, "switchyard_events_total", fmt.Sprintf(`destination="%s",outcome="%s"`, d, o))
					sum += v
				}
			}
		}
		if sum >= float64(2*total) {
			break
		}
		if sum != lastSum {
			lastSum, lastChange = sum, time.Now()
		} else if time.Since(lastChange) > 60*time.Second {
			return fmt.Errorf("stalled: %.0f of %d (event, destination) outcomes after %s", sum, 2*total, time.Since(t0).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	res.drain = time.Since(t0)
	res.cpu = r.cpu() - cpu0
	res.others = load.others()
	res.peakSampled, _ = sampler.stop()
	res.lastRSS, res.hwm = r.rss()
	logf("phase M: drained in %s; peak RSS %s", res.drain.Round(time.Millisecond), mb(max(res.peakSampled, res.hwm)))

	text, err := r.metrics()
	if err != nil {
		return err
	}
	var faults []string
	for i, d := range floodDests {
		o := map[string]float64{}
		for _, k := range append(finalOutcomes, "retried") {
			o[k], _ = metricValue(text, "switchyard_events_total", fmt.Sprintf(`destination="%s",outcome="%s"`, d, k))
		}
		o["expired"], _ = metricValue(text, "switchyard_events_expired_total", fmt.Sprintf(`destination="%s"`, d))
		o["sink"] = float64(recs[i].distinct.Load())
		res.outcomes[d] = o
		if o["delivered"] != float64(valid) || o["sink"] != float64(valid) {
			faults = append(faults, fmt.Sprintf("%s: %.0f delivered, %.0f distinct at the sink, of %d valid", d, o["delivered"], o["sink"], valid))
		}
		if o["invalid"] != float64(garbage) {
			faults = append(faults, fmt.Sprintf("%s: %.0f invalid of %d garbage", d, o["invalid"], garbage))
		}
		for _, k := range []string{"filtered", "unmatched", "dead_lettered", "expired"} {
			if o[k] != 0 {
				faults = append(faults, fmt.Sprintf("%s: %.0f %s (expected 0)", d, o[k], k))
			}
		}
	}
	if st, err := nc.js.Stream(ctx, router.EventsStream); err == nil {
		if info, err := st.Info(ctx); err == nil {
			res.eventsBytes = int64(info.State.Bytes)
		}
	}
	if st, err := nc.js.Stream(ctx, router.DLQStream); err == nil {
		if info, err := st.Info(ctx); err == nil {
			res.dlqBytes, res.dlqMsgs = int64(info.State.Bytes), info.State.Msgs
		}
	}
	if res.diskUse, err = diskUsage(dataDir); err != nil {
		return err
	}
	r.stop()
	r = nil
	b.rep.m = res
	if len(faults) > 0 {
		return fmt.Errorf("the ledger does not hold: %s", strings.Join(faults, "; "))
	}
	logf("phase M: ledger holds: each destination delivered %d and found %d invalid; data dir %s (EVENTS %s, DLQ %s in %d messages)",
		valid, garbage, mbBytes(res.diskUse), mbBytes(res.eventsBytes), mbBytes(res.dlqBytes), res.dlqMsgs)
	return nil
}

// diskUsage is what du reports: the allocated blocks of every file under
// dir.
func diskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512 // st_blocks is in 512-byte units (stat(2))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disk use of %s: %w", dir, err)
	}
	return n, nil
}

func mbBytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// floodMarkdown is phase M's table.
func (r *report) floodMarkdown() string {
	m := r.m
	if m == nil {
		return ""
	}
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	w("\n#### The embedded shape under a malformed flood (phase M)\n\n")
	env := "serve's defaults (GOGC 300, a 320 MiB soft memory limit)"
	if m.env != "" {
		env = "the environment's" + m.env
	}
	w("`switchyard serve` with its embedded nats-server (one process, the JetStream store in its data directory), two forwarding webhooks reading one source, %s. %s unparseable events of about 7 KB (unterminated JSON: `invalid` for both destinations) and %s valid ones of about 1 KB, %s MB in all, published in a seeded random order once the router was ready; drained = both destinations settled every event.\n\n",
		env, num(float64(m.garbage)), num(float64(m.valid)), num(float64(m.published)/1e6))
	w("| peak RSS, router + nats-server | RSS once drained | published in | drained in | router CPU | data dir on disk | EVENTS | DLQ | other processes |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	w("| %s | %s | %s | %s | %s | %s | %s | %s (%s messages) | %.2f cores |\n",
		mb(max(m.peakSampled, m.hwm)), mb(m.lastRSS), m.publish.Round(100*time.Millisecond), m.drain.Round(100*time.Millisecond), m.cpu.Round(10*time.Millisecond),
		mbBytes(m.diskUse), mbBytes(m.eventsBytes), mbBytes(m.dlqBytes), num(float64(m.dlqMsgs)), m.others)
	w("\nPeak RSS: the larger of VmRSS sampled every 100 ms and VmHWM at the end; disk: the data directory's allocated blocks (as `du`) once drained; EVENTS and DLQ: the streams' bytes. The ledger, per destination (the phase fails unless delivered = valid = distinct ids at the sink, invalid = garbage, and the rest 0):\n\n")
	w("| destination | delivered | at the sink | invalid | filtered | unmatched | dead_lettered | expired | retried |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, d := range floodDests {
		o := m.outcomes[d]
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", d, num(o["delivered"]), num(o["sink"]), num(o["invalid"]), num(o["filtered"]), num(o["unmatched"]), num(o["dead_lettered"]), num(o["expired"]), num(o["retried"]))
	}
	return sb.String()
}
