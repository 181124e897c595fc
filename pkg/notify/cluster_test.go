package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Two replicas of the stage on an R3 cluster whose third node lags: it
// answers its clients but applies no write, so a direct get it answers is
// the state before the last write — the "sending" a notice had before it
// was sent. On such reads 5–9 % of cases once stayed routed for good. Here
// every case gets its notice and its outcome, no URL goes twice to one
// contact, and no read of a bucket the stage decides on is a direct get.
func TestClusterEveryNoticeRecorded(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	lagging := (c.MetaLeader() + 1) % c.Len()
	nodes := []int{(lagging + 1) % c.Len(), (lagging + 2) % c.Len()}
	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	var direct atomic.Int64
	var replicas []*harness
	for _, n := range nodes {
		cl := c.Connect(n)
		st, err := store.Open(t.Context(), cl.JS, store.Options{
			Replicas: 3, Log: slog.New(slog.DiscardHandler),
			Retry: broker.Retrier{CallTimeout: 10 * time.Second, Attempts: 5, Backoff: 100 * time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Every direct get published on this node passes here.
		if _, err := c.Connect(n).Conn.Subscribe("$JS.API.DIRECT.GET.>", func(m *nats.Msg) {
			if strings.Contains(m.Subject, ".KV_takedown_") {
				direct.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, newHarnessOn(t, st, relay, func(cfg *config.Notify) {
			cfg.BatchWindow = 300 * time.Millisecond
		}, nil))
	}
	h := replicas[0]
	js := c.Connect(nodes...).JS
	c.WaitFor(60*time.Second, "the stage's consumers", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for _, name := range []string{"takedownd-route", "takedownd-notify", "takedownd-" + stageFlush} {
			if _, err := js.Consumer(ctx, store.WorkStream, name); err != nil {
				return false
			}
		}
		return true
	})
	c.Lag(lagging)
	defer c.Release(lagging)

	const cases, contacts = 40, 8
	ids := make([]string, cases)
	for i := range ids {
		ids[i] = h.enrichedCase(fmt.Sprintf("http://host%d.example.nl/%d.jpg", i%contacts, i), takedown.PriorityNormal, fmt.Sprintf("abuse@hoster%d.nl", i%contacts))
	}
	refs := h.sentNotices(ids)
	for ref := range refs {
		rec, err := h.stage.Notice(t.Context(), ref)
		if err != nil || rec.State != takedown.NoticeSent {
			t.Errorf("notice %s: state %q, err %v; want sent", ref, rec.State, err)
		}
	}
	sent := map[string]string{} // url → contact it went to
	for _, m := range relay.Messages() {
		for i := range cases {
			url := fmt.Sprintf("http://host%d.example.nl/%d.jpg", i%contacts, i)
			if !strings.Contains(string(m.Data), url+"\r\n") && !strings.Contains(string(m.Data), url+"\n") {
				continue
			}
			if to, twice := sent[url]; twice {
				t.Errorf("%s went to %s and again to %v", url, to, m.To)
			}
			sent[url] = strings.Join(m.To, ",")
		}
	}
	if len(sent) != cases {
		t.Errorf("%d of %d URLs reached the relay", len(sent), cases)
	}
	if n := direct.Load(); n != 0 {
		t.Errorf("%d direct gets of the stage's buckets; decisions must read from the stream leader", n)
	}
}
