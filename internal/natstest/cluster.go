package natstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of in-process nats-servers on loopback:
// each node has its own client port, cluster (route) port and store
// directory, and routes to every node.
type Cluster struct {
	Name    string
	Servers []*Server // nil once shut down
}

// StartCluster runs an n-node JetStream cluster and waits until its
// JetStream meta group has a leader and answers a client. It is shut down
// when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	var c *Cluster
	var err error
	// The route ports are picked before the servers bind them; another
	// process may take one in between, so try again on a failed start.
	for try := 0; try < 3; try++ {
		c, err = startCluster(t, n)
		if err == nil {
			break
		}
		c.shutdownAll()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.shutdownAll)
	if err := c.WaitJetStream(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func startCluster(t testing.TB, n int) (*Cluster, error) {
	c := &Cluster{Name: fmt.Sprintf("switchyard-test-%d", time.Now().UnixNano()%1_000_000)}
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = FreePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])
	}
	for i := range n {
		dir := t.TempDir()
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   dir,
			NoLog:      true,
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name: c.Name,
				Host: "127.0.0.1",
				Port: ports[i],
			},
			Routes: server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			return c, err
		}
		go s.Start()
		c.Servers = append(c.Servers, &Server{Server: s, Dir: dir})
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(15 * time.Second) {
			return c, fmt.Errorf("nats-server %s did not start", s.Name())
		}
	}
	return c, nil
}

// URLs is the client URLs of the running nodes, comma-separated, as
// nats.url takes them.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		if s != nil {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// WaitJetStream waits until a meta leader is elected, every running node is
// current with it, and a client gets the account's JetStream info.
func (c *Cluster) WaitJetStream(within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		last = c.jetStreamReady()
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("JetStream cluster not ready after %s: %v", within, last)
}

func (c *Cluster) jetStreamReady() error {
	leader := false
	for _, s := range c.Servers {
		if s == nil {
			continue
		}
		if !s.JetStreamIsCurrent() {
			return fmt.Errorf("%s is not current with the meta group", s.Name())
		}
		leader = leader || s.JetStreamIsLeader()
	}
	if !leader {
		return fmt.Errorf("no meta leader")
	}
	nc, err := nats.Connect(c.URLs(), nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Connect opens a client connection to every node (it reconnects to a
// survivor when its node goes away), closed when the test ends.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// Index returns the position of the node named name (a ServerName such as
// "n2", as JetStream's ClusterInfo.Leader reports it), or -1.
func (c *Cluster) Index(name string) int {
	for i, s := range c.Servers {
		if s != nil && s.Name() == name {
			return i
		}
	}
	return -1
}

// Shutdown stops node i, as a crash would from the clients' point of view.
func (c *Cluster) Shutdown(i int) {
	s := c.Servers[i]
	if s == nil {
		return
	}
	c.Servers[i] = nil
	s.Shutdown()
	s.WaitForShutdown()
}

func (c *Cluster) shutdownAll() {
	if c == nil {
		return
	}
	for i := range c.Servers {
		c.Shutdown(i)
	}
}
