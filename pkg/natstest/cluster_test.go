package natstest

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// The helper's promises: R3 buckets work; a held or lagging node falls
// behind and answers direct gets from what it had (the hazard the daemon
// must not decide on), then catches up when released; a stopped node
// comes back on its data.
func TestClusterHoldLagRestart(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	ctx := t.Context()
	cl := c.Connect()
	kv, err := cl.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	const stream = "KV_probe"
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	leader := c.WaitStreamLeader(stream)
	follower := (leader + 1) % c.Len()
	other := (leader + 2) % c.Len()
	atFollower, err := c.Connect(follower).JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	value := func(kv jetstream.KeyValue) string {
		t.Helper()
		e, err := kv.Get(ctx, "k")
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		return string(e.Value())
	}
	c.WaitFor(waitBound, "follower answering direct gets", func() bool { return c.AnswersDirectGets(follower, stream) })
	if got := value(atFollower); got != "v1" {
		t.Fatalf("follower answered %q, want v1", got)
	}

	c.Hold(follower)
	atLeader, err := c.Connect(leader, other).JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := atLeader.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatalf("put with one node held (quorum of two): %v", err)
	}
	if got := c.StaleDirectGet(atFollower, "k", "v2", 100); got != "v1" {
		t.Errorf("held follower answered %q to a direct get; want the stale v1", got)
	}
	c.Release(follower)
	// A direct get through the follower may be answered by another
	// replica: ask the follower itself whether it applied v2, since it may
	// be the node that lags next, and must lag behind v2, not v1.
	c.WaitFor(waitBound, "follower caught up", func() bool { return c.StreamCurrent(follower, stream) && value(atFollower) == "v2" })

	// A lagging node answers its clients, stale; the others go on.
	// The JetStream API travels with replication, so bind before.
	lagging := (c.MetaLeader() + 1) % c.Len()
	atLagging, err := c.Connect(lagging).JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	ahead, err := c.Connect(c.others(lagging)...).JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	c.WaitFor(waitBound, "node to lag current", func() bool { return c.StreamCurrent(lagging, stream) })
	c.Lag(lagging)
	if _, err := ahead.Put(ctx, "k", []byte("v2.5")); err != nil {
		t.Fatalf("put with a node lagging: %v", err)
	}
	if got := c.StaleDirectGet(atLagging, "k", "v2.5", 100); got != "v2" {
		t.Errorf("lagging node answered %q, want the stale v2", got)
	}
	c.Release(lagging)
	c.WaitFor(waitBound, "lagging node caught up", func() bool { return c.StreamCurrent(lagging, stream) })

	leader = c.WaitStreamLeader(stream)
	other = (leader + 2) % c.Len()
	c.Stop(other)
	if c.Server(other) != nil {
		t.Fatal("stopped node still has a server")
	}
	onlyLeader, err := c.Connect(leader).JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onlyLeader.Put(ctx, "k", []byte("v3")); err != nil {
		t.Fatalf("put with one node stopped: %v", err)
	}
	c.Restart(other)
	back := c.Connect(other)
	c.WaitJetStream(back)
	kvBack, err := back.JS.KeyValue(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	c.WaitFor(waitBound, "restarted node with the last value", func() bool {
		e, err := kvBack.Get(ctx, "k")
		return err == nil && string(e.Value()) == "v3"
	})
}
