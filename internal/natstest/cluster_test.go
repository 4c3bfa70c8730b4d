package natstest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/internal/natstest"
)

// A replicated stream keeps its messages and takes new ones when a node
// goes away.
func TestClusterSurvivesANode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	if len(c.Servers) != 3 {
		t.Fatalf("%d servers", len(c.Servers))
	}
	_, js := c.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A reply lost while the stream's own group elects its leader leaves
	// the request waiting for its whole deadline: ask again, briefly each
	// time (the same config again is no error).
	var st jetstream.Stream
	var err error
	for try := 0; ; try++ {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = js.CreateStream(actx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
		acancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("creating an R3 stream, %d tries: %v", try+1, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster info %+v: want a leader and 2 replicas", info.Cluster)
	}
	// The new stream's first publishes may find its leader not yet
	// answering ("no response from stream"): each is retried briefly under
	// its own message id, so a retry of one that was stored after all is
	// dropped as a duplicate rather than counted twice.
	for i := range 10 {
		for try := 0; ; try++ {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(pctx, "t.x", []byte(fmt.Sprint(i)), jetstream.WithMsgID(fmt.Sprint("m", i)))
			pcancel()
			if err == nil {
				break
			}
			if try == 20 || ctx.Err() != nil {
				t.Fatalf("publish %d, %d tries: %v", i, try+1, err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Take the stream leader away: another node takes over.
	leader := c.Index(info.Cluster.Leader)
	if leader < 0 {
		t.Fatalf("leader %q is not a node", info.Cluster.Leader)
	}
	c.Shutdown(leader)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "t.x", []byte("after"))
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no publish after losing the leader: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	info, err = st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 11 {
		t.Errorf("stream holds %d messages, want 11", info.State.Msgs)
	}
	if info.Cluster.Leader == "" || c.Index(info.Cluster.Leader) < 0 {
		t.Errorf("new leader %q", info.Cluster.Leader)
	}
}
