package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"
)

// runSink is a local receiver for demos and for checking what a tool would
// receive: it prints each request and answers with a chosen status.
func runSink(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "listen address")
	status := fs.Int("status", 200, "HTTP status to answer with (try 500 or 429 to watch retries)")
	headers := fs.Bool("headers", false, "print request headers too")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var mu sync.Mutex
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		mu.Lock()
		defer mu.Unlock()
		n++
		fmt.Fprintf(stdout, "\n── sink #%d %s %s %s\n", n, time.Now().Format("15:04:05.000"), r.Method, r.URL.RequestURI())
		if *headers {
			keys := make([]string, 0, len(r.Header))
			for k := range r.Header {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(stdout, "%s: %s\n", k, r.Header.Get(k))
			}
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			fmt.Fprintln(stdout, pretty.String())
		} else if len(body) > 0 {
			fmt.Fprintln(stdout, string(body))
		}
		w.Header().Set("Content-Type", "application/json")
		if *status == 429 || *status == 503 {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(*status)
		fmt.Fprintf(w, `{"status":%d}`, *status)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = srv.Close()
	}()
	fmt.Fprintf(stderr, "sink listening on http://%s (answering %d)\n", *listen, *status)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stderr, "sink:", err)
		return 1
	}
	return 0
}
