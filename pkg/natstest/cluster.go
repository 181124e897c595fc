package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of nodes in the test process, routed to
// each other on loopback, for what only a cluster shows: R3 streams and
// buckets, a follower answering a read before it applied the last write,
// a node stopped and started again. Every route between two nodes runs
// through a proxy the test controls (Hold), and nodes learn no other
// addresses (no gossip to clients, and an advertised route address that
// leads nowhere), so what a test holds stays held. It is shut down when
// the test ends.
type Cluster struct {
	tb    testing.TB
	nodes []*node
	// links[i][j] carries node i's route connections to node j.
	links [][]*link
	sink  net.Listener
}

type node struct {
	name string
	dir  string
	opts *server.Options

	mu  sync.Mutex
	srv *server.Server
}

// ClusterAccount is the account the cluster's clients use (the default
// one), for the server's per-stream questions.
const ClusterAccount = "$G"

// StartCluster runs n JetStream nodes (n ≥ 3 for a quorum that survives
// one loss) with their stores in temp dirs and waits until the cluster has
// a meta leader that sees every node.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, links: make([][]*link, n)}
	var err error
	// The route address every node advertises: connections to it are
	// closed at once, so a node that learns of another through gossip
	// does not route around the proxies.
	if c.sink, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		tb.Fatalf("listen: %v", err)
	}
	go func() {
		for {
			conn, err := c.sink.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	for i := range n {
		c.links[i] = make([]*link, n)
		for j := range n {
			if i == j {
				continue
			}
			if c.links[i][j], err = newLink(); err != nil {
				tb.Fatalf("listen: %v", err)
			}
		}
	}
	for i := range n {
		nd := &node{name: fmt.Sprintf("n%d", i+1), dir: tb.TempDir()}
		nd.opts = &server.Options{
			ServerName: nd.name,
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   nd.dir,
			NoLog:      true,
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name:        "takedownd-test",
				Host:        "127.0.0.1",
				Port:        -1,
				NoAdvertise: true,
				Advertise:   c.sink.Addr().String(),
			},
		}
		for j := range n {
			if j != i {
				nd.opts.Routes = append(nd.opts.Routes, &url.URL{Scheme: "nats-route", Host: c.links[i][j].addr()})
			}
		}
		c.nodes = append(c.nodes, nd)
	}
	// After the temp dirs, so that it runs before they are removed.
	tb.Cleanup(c.shutdown)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitMeta(n)
	c.waitPlacement(min(n, 3))
	return c
}

// waitPlacement waits until the cluster places a stream of r replicas: a
// meta leader that sees every node may still answer "no suitable peers"
// while the nodes' first reports come in.
func (c *Cluster) waitPlacement(r int) {
	c.tb.Helper()
	cl := c.Connect()
	defer cl.Conn.Close()
	c.WaitFor(waitBound, fmt.Sprintf("placement of a stream of %d replicas", r), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.JS.CreateStream(ctx, jetstream.StreamConfig{
			Name: "natstest_ready", Subjects: []string{"natstest.ready"}, Replicas: r, Storage: jetstream.MemoryStorage,
		})
		return err == nil && cl.JS.DeleteStream(ctx, "natstest_ready") == nil
	})
}

// start runs node i (again, on its data and its ports) and points the
// links to it at its cluster address.
func (c *Cluster) start(i int) {
	c.tb.Helper()
	nd := c.nodes[i]
	srv, err := server.NewServer(nd.opts)
	if err != nil {
		c.tb.Fatalf("start %s: %v", nd.name, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitBound) {
		c.tb.Fatalf("%s not ready within %s", nd.name, waitBound)
	}
	// A restart keeps the ports, so clients reconnect where they were.
	nd.opts.Port = srv.Addr().(*net.TCPAddr).Port
	nd.opts.Cluster.Port = srv.ClusterAddr().Port
	nd.mu.Lock()
	nd.srv = srv
	nd.mu.Unlock()
	for j := range c.nodes {
		if j != i {
			c.links[j][i].setTarget(srv.ClusterAddr().String())
		}
	}
}

// waitMeta waits until one node leads the meta group and sees want nodes.
func (c *Cluster) waitMeta(want int) {
	c.tb.Helper()
	c.WaitFor(waitBound, fmt.Sprintf("a meta leader seeing %d nodes", want), func() bool {
		for i := range c.nodes {
			if srv := c.Server(i); srv != nil && srv.JetStreamIsLeader() && len(srv.JetStreamClusterPeers()) >= want {
				return true
			}
		}
		return false
	})
}

// waitBound bounds the helpers' waits for the cluster's state. It is not
// a speed claim (they go on as soon as the state holds): it is generous
// because the three nodes share a busy 2-core machine with other test
// suites, where an election or a catch-up has taken tens of seconds.
const waitBound = 2 * time.Minute

// WaitFor polls cond until it holds, failing the test after timeout. The
// cluster's elections and catch-up take their own time; a test waits for
// the state, never for a fixed while.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() bool) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.tb.Fatalf("cluster: no %s within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Len is the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Server is node i's server, nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	nd := c.nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.srv
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].opts.Port)
}

// URLs lists every node's client URL, comma-separated as nats.Connect
// (and nats.urls in the daemon's config) takes them: a client given them
// all fails over when its node stops.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// ClientTimeout is the default timeout of a Client's JetStream calls made
// with a context that has no deadline.
const ClientTimeout = 20 * time.Second

// Client is a connection to the cluster and its JetStream context.
type Client struct {
	Conn *nats.Conn
	JS   jetstream.JetStream
}

// Connect opens a client connection to the nodes given (all when none):
// to one node, for a test about what that node answers. It reconnects
// without end and is closed when the test ends.
func (c *Cluster) Connect(nodes ...int) *Client {
	c.tb.Helper()
	urls := c.URLs()
	if len(nodes) > 0 {
		var us []string
		for _, i := range nodes {
			us = append(us, c.URL(i))
		}
		urls = strings.Join(us, ",")
	}
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.tb.Fatalf("connect %s: %v", urls, err)
	}
	c.tb.Cleanup(nc.Close)
	// A cluster of three in one test process on a loaded machine answers
	// slower than nats.go's default of 5s allows.
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(ClientTimeout))
	if err != nil {
		c.tb.Fatalf("jetstream: %v", err)
	}
	return &Client{Conn: nc, JS: js}
}

// StreamLeader is the node that leads the stream (of ClusterAccount), or
// -1 while it has none.
func (c *Cluster) StreamLeader(stream string) int {
	for i := range c.nodes {
		if srv := c.Server(i); srv != nil && srv.JetStreamIsStreamLeader(ClusterAccount, stream) {
			return i
		}
	}
	return -1
}

// WaitStreamLeader waits until the stream has a leader and returns it.
func (c *Cluster) WaitStreamLeader(stream string) int {
	c.tb.Helper()
	leader := -1
	c.WaitFor(waitBound, "leader of stream "+stream, func() bool {
		leader = c.StreamLeader(stream)
		return leader >= 0
	})
	return leader
}

// StreamCurrent reports whether node i has applied everything the
// stream's leader committed.
func (c *Cluster) StreamCurrent(i int, stream string) bool {
	srv := c.Server(i)
	return srv != nil && srv.JetStreamIsStreamCurrent(ClusterAccount, stream)
}

// AnswersDirectGets reports whether node i answers direct gets of the
// stream itself. A follower starts to once it has caught up. A direct get
// goes to any replica that answers them, chosen at random for each
// request, wherever the client is connected.
func (c *Cluster) AnswersDirectGets(i int, stream string) bool {
	srv := c.Server(i)
	if srv == nil {
		return false
	}
	sz, err := srv.Subsz(&server.SubszOptions{Subscriptions: true, Account: ClusterAccount, Test: "$JS.API.DIRECT.GET." + stream, Limit: 1 << 10})
	if err != nil {
		return false
	}
	// The replica's own subscription is a queue member; the account's
	// import of the whole JetStream API ($JS.API.>) matches too, and is not
	// one.
	for _, sub := range sz.Subs {
		if sub.Queue != "" {
			return true
		}
	}
	return false
}

// Hold stops every byte between node i and the other nodes, without
// closing a connection: the node is cut off as by a partition, while its
// own clients still reach it (but nothing they ask of another node). Hold
// for seconds, not minutes: a route's pings and write deadline end it
// after that, and past the election timeout the held node calls an
// election when it is released.
func (c *Cluster) Hold(i int) { c.hold(i, holdAll) }

// Lag stops the replication traffic to and from node i (the system
// account's route connections, where every Raft group talks) and nothing
// else: the node keeps answering its clients and passing their messages
// on, but applies no write of any stream — a follower that has fallen
// behind, as a loaded node on a real cluster does for milliseconds. A
// direct get it answers is stale. The JetStream API between servers
// travels with replication, so its clients get no API answers meanwhile:
// bind streams, buckets and consumers through it before. Lag first moves
// every stream and consumer leadership off the node, so that the cluster
// goes on without it; node i must not lead the meta group (MetaLeader).
func (c *Cluster) Lag(i int) {
	c.tb.Helper()
	c.stepDown(i)
	c.hold(i, holdSystem)
}

// Release lets node i's traffic flow again; it catches up.
func (c *Cluster) Release(i int) { c.hold(i, holdNone) }

func (c *Cluster) hold(i int, m holdMode) {
	for j := range c.nodes {
		if j != i {
			c.links[i][j].hold(m)
			c.links[j][i].hold(m)
		}
	}
}

// MetaLeader is the node that leads the meta group, or -1.
func (c *Cluster) MetaLeader() int {
	for i := range c.nodes {
		if srv := c.Server(i); srv != nil && srv.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// stepDown moves the leadership of every stream and consumer (of
// ClusterAccount) off node i and waits until others lead them.
func (c *Cluster) stepDown(i int) {
	c.tb.Helper()
	srv := c.Server(i)
	cl := c.Connect(c.others(i)...)
	defer cl.Conn.Close()
	type group struct{ stream, consumer string }
	var groups []group
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	// Only replicated groups have a leader to move; a single-replica one
	// (an ordered consumer) stays where it is.
	streams := cl.JS.ListStreams(ctx)
	for si := range streams.Info() {
		if si.Cluster == nil || len(si.Cluster.Replicas) == 0 {
			continue
		}
		groups = append(groups, group{stream: si.Config.Name})
		st, err := cl.JS.Stream(ctx, si.Config.Name)
		if err != nil {
			c.tb.Fatalf("stream %s: %v", si.Config.Name, err)
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Cluster != nil && len(ci.Cluster.Replicas) > 0 {
				groups = append(groups, group{si.Config.Name, ci.Name})
			}
		}
		if err := consumers.Err(); err != nil {
			c.tb.Fatalf("list consumers of %s: %v", si.Config.Name, err)
		}
	}
	if err := streams.Err(); err != nil {
		c.tb.Fatalf("list streams: %v", err)
	}
	leads := func(s *server.Server, g group) bool {
		if g.consumer == "" {
			return s.JetStreamIsStreamLeader(ClusterAccount, g.stream)
		}
		return s.JetStreamIsConsumerLeader(ClusterAccount, g.stream, g.consumer)
	}
	ledElsewhere := func(g group) bool {
		for _, j := range c.others(i) {
			if s := c.Server(j); s != nil && leads(s, g) {
				return true
			}
		}
		return false
	}
	// Moved means another node leads: between the step-down and the
	// election a group has no leader, and a publish to its stream gets
	// "no response from stream".
	c.WaitFor(waitBound, "leaderships moved off "+c.nodes[i].name, func() bool {
		moved := true
		for _, g := range groups {
			if !leads(srv, g) {
				moved = moved && ledElsewhere(g)
				continue
			}
			moved = false
			if g.consumer == "" {
				_ = srv.JetStreamStepdownStream(ClusterAccount, g.stream)
			} else {
				_ = srv.JetStreamStepdownConsumer(ClusterAccount, g.stream, g.consumer)
			}
		}
		return moved
	})
}

func (c *Cluster) others(i int) []int {
	var out []int
	for j := range c.nodes {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

// Stop shuts node i down, as a crash of its machine would look to the
// others: its routes close.
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	nd := c.nodes[i]
	nd.mu.Lock()
	srv := nd.srv
	nd.srv = nil
	nd.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	for j := range c.nodes {
		if j != i {
			c.links[i][j].cut()
			c.links[j][i].cut()
		}
	}
}

// Restart starts a stopped node i again on its data and ports, and waits
// until the meta leader sees every node again.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if c.Server(i) != nil {
		return
	}
	c.start(i)
	c.waitMeta(len(c.nodes))
}

// WaitJetStream waits until a JetStream call through a connection to
// every node answers (after a restart, before a test asks it anything).
func (c *Cluster) WaitJetStream(cl *Client) {
	c.tb.Helper()
	c.WaitFor(waitBound, "JetStream answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := cl.JS.AccountInfo(ctx)
		return err == nil
	})
}

func (c *Cluster) shutdown() {
	var running []*server.Server
	for _, nd := range c.nodes {
		nd.mu.Lock()
		if nd.srv != nil {
			running = append(running, nd.srv)
		}
		nd.srv = nil
		nd.mu.Unlock()
	}
	for _, srv := range running {
		srv.Shutdown()
	}
	for _, srv := range running {
		srv.WaitForShutdown()
	}
	for i := range c.nodes {
		for j := range c.nodes {
			if l := c.links[i][j]; l != nil {
				l.close()
			}
		}
	}
	_ = c.sink.Close()
}

// StaleDirectGet shows the hazard of direct gets on a cluster: it asks
// for key through kv (bound on a connection to a held node, with direct
// get on) until a replica answers something other than want, and returns
// that answer. Each request goes to a replica at random; those sent to the
// held node's peers wait behind the hold and time out, the held node's own
// answer comes at once and is stale. It fails the test when no stale
// answer came in attempts tries.
func (c *Cluster) StaleDirectGet(kv jetstream.KeyValue, key, want string, attempts int) string {
	c.tb.Helper()
	for range attempts {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		e, err := kv.Get(ctx, key)
		cancel()
		if err == nil && string(e.Value()) != want {
			return string(e.Value())
		}
	}
	c.tb.Fatalf("no stale direct get of %s in %d tries", key, attempts)
	return ""
}
