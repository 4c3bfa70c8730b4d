// Command bloblang maps the benchmark's events with the 10-field mapping
// written in Bloblang (github.com/redpanda-data/benthos/v4/public/bloblang,
// MIT), for the peer table of `make bench` (-phases P): the same work as
// switchyard's mapping language does in bench/workload.TenFields. It is
// its own module so that the product's dependencies do not grow.
//
//	go run . -events events.jsonl [-bodies bodies.jsonl -keep 200]
//
// Each line of -events is one event; each is parsed from JSON, mapped and
// encoded to its JSON body, as a pipeline would. It prints one JSON
// object: {"events", "cpu_seconds", "wall_seconds"}, the CPU time of this
// process over the loop (every thread: the GC included).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// tenFields is bench/workload.TenFields in Bloblang: the same fields with
// the same fallbacks as switchyard's helpers (the person's traits are an
// identify call's traits, else context.traits; email and phone also read
// a track call's properties; currency is upper-cased, USD by default;
// products have their price and quantity read as numbers, quantity 1 when
// absent).
const tenFields = `
let t1 = if this.type == "identify" { this.traits.or({}) } else { this.context.traits.or({}) }
let t2 = if this.type == "identify" { this.context.traits.or({}) } else { {} }
let props = this.properties.or({})
let track = this.type == "track"
root.message_id = this.messageId
let uid = this.userId.or(this.anonymousId)
root.user_id = if $uid != null { $uid.string() } else { deleted() }
root.email = $t1.email.or($t2.email).or(if $track { $props.email } else { null }).trim().catch(deleted())
root.first_name = $t1.firstName.or($t1.first_name).or($t2.firstName).or($t2.first_name).trim().catch(deleted())
root.last_name = $t1.lastName.or($t1.last_name).or($t2.lastName).or($t2.last_name).trim().catch(deleted())
let phone = $t1.phone.or($t2.phone).or(if $track { $props.phone } else { null })
root.phone = if $phone != null { $phone.string().trim() } else { deleted() }
root.event = this.event.or(this.name).or(deleted())
root.revenue = $props.revenue.number().catch(deleted())
let currency = $props.currency.or("").string().trim().uppercase()
root.currency = if $currency == "" { "USD" } else { $currency }
root.products = $props.products.or([]).map_each(p -> {
  "id": p.product_id.or(p.productId).or(p.id).or(p.sku).string(),
  "price": p.price.number().catch(null),
  "quantity": p.quantity.or(1).number()
})
`

func main() {
	events := flag.String("events", "", "JSONL file of events")
	bodies := flag.String("bodies", "", "write the first -keep bodies here, one per line")
	keep := flag.Int("keep", 200, "bodies to write to -bodies")
	flag.Parse()
	exe, err := bloblang.Parse(tenFields)
	if err != nil {
		fatal("mapping: %v", err)
	}
	data, err := os.ReadFile(*events)
	if err != nil {
		fatal("%v", err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var kept *bufio.Writer
	if *bodies != "" {
		f, err := os.Create(*bodies)
		if err != nil {
			fatal("%v", err)
		}
		defer f.Close()
		kept = bufio.NewWriter(f)
		defer kept.Flush()
	}
	cpu0, wall0 := cpuTime(), time.Now()
	for i, line := range lines {
		var ev any
		if err := json.Unmarshal(line, &ev); err != nil {
			fatal("event %d: %v", i, err)
		}
		out, err := exe.Query(ev)
		if err != nil {
			fatal("event %d: %v", i, err)
		}
		body, err := json.Marshal(out)
		if err != nil {
			fatal("event %d: %v", i, err)
		}
		if kept != nil && i < *keep {
			kept.Write(body)
			kept.WriteByte('\n')
		}
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"events": len(lines), "cpu_seconds": cpu.Seconds(), "wall_seconds": wall.Seconds()})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatal("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bloblang: "+format+"\n", args...)
	os.Exit(1)
}
