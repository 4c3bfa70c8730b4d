package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newSinkCmd() *cobra.Command {
	var o sinkOptions
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "A local HTTP receiver that prints what it is sent",
		Long: `sink listens on --listen and prints every request it receives (method, path,
and the body, JSON pretty-printed), answering each with --status. Point a
destination's URL at it to see what a tool would receive; answer 500 or 429 to
watch retries, the breaker and Retry-After (429 and 503 carry Retry-After: 2).
The quickstart's destinations point at its default address. SIGINT or SIGTERM
stops it.`,
		Example: `  switchyard sink --listen 127.0.0.1:9000 --headers
  switchyard sink --status 503`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runSink(o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:9000", "listen address")
	cmd.Flags().IntVar(&o.status, "status", 200, "HTTP status to answer with (try 500 or 429 to watch retries)")
	cmd.Flags().BoolVar(&o.headers, "headers", false, "print request headers too")
	return cmd
}

type sinkOptions struct {
	listen  string
	status  int
	headers bool
}

// runSink is a local receiver for demos and for checking what a tool would
// receive: it prints each request and answers with a chosen status.
func runSink(o sinkOptions, stdout, stderr io.Writer) int {
	listen, status, headers := o.listen, o.status, o.headers
	var mu sync.Mutex
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		mu.Lock()
		defer mu.Unlock()
		n++
		fmt.Fprintf(stdout, "\n── sink #%d %s %s %s\n", n, time.Now().Format("15:04:05.000"), r.Method, r.URL.RequestURI())
		if headers {
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
		if status == 429 || status == 503 {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d}`, status)
	})
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = srv.Close()
	}()
	fmt.Fprintf(stderr, "sink listening on http://%s (answering %d)\n", listen, status)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stderr, "sink:", err)
		return 1
	}
	return 0
}
