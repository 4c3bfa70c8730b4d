package router_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/router"
)

// Outbound safety: private addresses refused on request, TLS verified
// unless a destination turns it off, and a timeout on every request.

func TestDenyPrivateDestinationsRefusesLoopbackAndDeadLettersWithTheReason(t *testing.T) {
	for _, deny := range []bool{true, false} {
		t.Run(fmt.Sprintf("deny_private_destinations=%v", deny), func(t *testing.T) {
			tl := newTool(t, nil)
			e := newEnv(t, fmt.Sprintf("security:\n  deny_private_destinations: %v\n", deny),
				map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s/in\n", tl.URL) + fast})
			e.start()
			e.publish("web", track("m-1", "u", "Clicked", nil))
			e.waitSettled("hook", 1, 10*time.Second)
			if !deny {
				if e.count("hook", router.Delivered) != 1 || len(tl.all()) != 1 {
					t.Fatalf("not delivered with the option off: %s", e.outcomes("hook"))
				}
				return
			}
			if e.count("hook", router.DeadLettered) != 1 || len(tl.all()) != 0 {
				t.Fatalf("loopback not refused: %s, %d requests reached the tool", e.outcomes("hook"), len(tl.all()))
			}
			if e.count("hook", router.Retried) != 0 {
				t.Errorf("a refused address was retried: %s", e.outcomes("hook"))
			}
			dls := e.dlq("hook")
			want := "destination address 127.0.0.1 is in a loopback range; refused because security.deny_private_destinations is on"
			if len(dls) != 1 || !strings.Contains(dls[0].Reason, want) {
				t.Fatalf("dead letters %+v, want the reason %q", dls, want)
			}
			if strings.Contains(dls[0].Reason, "/in") {
				t.Errorf("the reason shows the URL's path: %q", dls[0].Reason)
			}
		})
	}
}

// A certificate the router cannot verify is a connection error: retried
// through JetStream (not in-process, it will not change within seconds)
// until the retry window closes, then dead-lettered with the reason. With
// insecure_skip_verify the same tool gets the event, and a warning says
// verification is off.
func TestTLSIsVerifiedUnlessTheDestinationTurnsItOff(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(200)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dest := fmt.Sprintf("type: webhook\nsettings:\n  url: %s/in\n", srv.URL) + `
delivery:
  attempts: 3
  retry_window: 1s
  backoff: {initial: 100ms, max: 200ms}
  breaker: {failures: 1000}
`
	e := newEnv(t, "", map[string]string{"secure": dest, "insecure": dest + "  insecure_skip_verify: true\n"})
	e.start()
	e.publish("web", track("m-1", "u", "Clicked", nil))
	e.waitSettled("secure", 1, 15*time.Second)
	e.waitSettled("insecure", 1, 15*time.Second)
	if e.count("insecure", router.Delivered) != 1 || hits.Load() != 1 {
		t.Fatalf("insecure: %s, %d requests completed", e.outcomes("insecure"), hits.Load())
	}
	if e.count("secure", router.DeadLettered) != 1 || e.count("secure", router.Retried) == 0 {
		t.Fatalf("secure: %s (want retried, then dead-lettered)", e.outcomes("secure"))
	}
	dls := e.dlq("secure")
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "retry window of 1s closed") || !strings.Contains(dls[0].Reason, "certificate") {
		t.Fatalf("secure dead letter: %+v", dls)
	}
	// One attempt per delivery: a certificate error is not retried in-process.
	if dls[0].Attempts > e.count("secure", router.Retried)+1 {
		t.Errorf("%d attempts over %d deliveries", dls[0].Attempts, e.count("secure", router.Retried)+1)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "TLS verification is off") || !strings.Contains(logs, "destination=insecure") {
		t.Errorf("no warning that TLS verification is off:\n%s", logs)
	}
	if strings.Contains(logs, "TLS verification is off\" destination=secure") || strings.Contains(logs, "TLS verification is off for secure") {
		t.Errorf("a warning for the verifying destination:\n%s", logs)
	}
	t.Logf("reason: %s", dls[0].Reason)
}

// A tool that never answers, or answers its headers and then stalls in the
// body, holds a request no longer than delivery.timeout; the lane goes on.
func TestEveryRequestHasATimeout(t *testing.T) {
	release := make(chan struct{})
	tl := newTool(t, func(n int, r *http.Request, body []byte) (int, http.Header, string) {
		if strings.Contains(string(body), `"hang"`) {
			<-release
		}
		return 200, nil, "{}"
	})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"ok":`)
		w.(http.Flusher).Flush()
		<-release
	}))
	t.Cleanup(stall.Close)
	t.Cleanup(func() { close(release) })
	slow := `
delivery:
  timeout: 300ms
  attempts: 1
  retry_window: 1s
  backoff: {initial: 100ms, max: 200ms}
  breaker: {failures: 1000}
`
	e := newEnv(t, "", map[string]string{
		"hangs":  fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + slow,
		"stalls": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", stall.URL) + slow,
	})
	e.start()
	start := time.Now()
	e.publish("web", track("hang", "u", "Clicked", nil))
	e.publish("web", track("fine", "u", "Clicked", nil))
	e.waitSettled("hangs", 2, 15*time.Second)
	e.waitSettled("stalls", 2, 15*time.Second)
	if e.count("hangs", router.DeadLettered) != 1 || e.count("hangs", router.Delivered) != 1 {
		t.Fatalf("hangs: %s", e.outcomes("hangs"))
	}
	dls := e.dlq("hangs")
	if len(dls) != 1 || dls[0].MessageID != "hang" || !strings.Contains(dls[0].Reason, "no response within the 300ms timeout") {
		t.Fatalf("dead letter: %+v", dls)
	}
	// Headers came with a 2xx: the tool took the events; the stalled body
	// is abandoned at the timeout.
	if e.count("stalls", router.Delivered) != 2 {
		t.Fatalf("stalls: %s", e.outcomes("stalls"))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// FCM mints its access tokens at the service account key's token_uri, an
// address the operator controls: with deny_private_destinations it is
// checked like deliveries.
func TestDenyPrivateDestinationsAlsoGuardsTheTokenEndpoint(t *testing.T) {
	t.Setenv("FCM_PRIVATE_KEY_ID", "kid-1")
	var minted atomic.Int32
	tokens := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		minted.Add(1)
		return 200, http.Header{"Content-Type": {"application/json"}}, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`
	})
	raw, err := os.ReadFile(filepath.Join("..", "destinations", "catalog", "fcm", "testdata", "push-device-token", "destination.yaml"))
	must(t, err)
	golden := string(raw)
	if !strings.Contains(golden, "https://oauth2.googleapis.com/token") {
		t.Fatal("the golden FCM destination changed")
	}
	dest := strings.Replace(golden, "https://oauth2.googleapis.com/token", tokens.URL+"/token", 1) + `
delivery:
  attempts: 1
  retry_window: 500ms
  backoff: {initial: 100ms, max: 200ms}
  breaker: {failures: 1000}
`
	e := newEnv(t, "security:\n  deny_private_destinations: true\n", map[string]string{"push": dest})
	e.start()
	ev := track("m-1", "u", "Order Shipped", nil)
	ev["context"] = map[string]any{"device": map[string]any{"token": "device-token-1"}}
	e.publish("web", ev)
	e.waitSettled("push", 1, 15*time.Second)
	if minted.Load() != 0 {
		t.Fatalf("the token endpoint on loopback was called %d times", minted.Load())
	}
	dls := e.dlq("push")
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "refused because security.deny_private_destinations is on") {
		t.Fatalf("dead letters: %+v (%s)", dls, e.outcomes("push"))
	}
}
