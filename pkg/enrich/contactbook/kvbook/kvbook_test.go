package kvbook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/store"
)

func openBook(t *testing.T) *Book {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), st, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return b
}

// waitFor polls the book until lookup gives want as the first address.
func waitFor(t *testing.T, l contactbook.Lookuper, host string, addr string, want string) contactbook.Match {
	t.Helper()
	var addrs []netip.Addr
	if addr != "" {
		addrs = []netip.Addr{netip.MustParseAddr(addr)}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, ok := l.Lookup(host, addrs, []uint{64500})
		if ok && m.Entry.Emails[0] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup %s %s = %+v (%v), want %s first", host, addr, m, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRememberAndLookUp(t *testing.T) {
	t.Parallel()
	b := openBook(t)
	ctx := t.Context()
	if _, err := b.Remember(ctx, Record{Kind: contactbook.KindNetwork, Match: "192.0.2.0/24", Emails: []string{"abuse@hoster.nl"}, By: "alice", Case: "C1"}); err != nil {
		t.Fatal(err)
	}
	m := waitFor(t, b, "www.site.nl", "192.0.2.7", "abuse@hoster.nl")
	if !strings.Contains(m.Entry.Note, "remembered by alice") || !strings.Contains(m.Entry.Note, "case C1") || m.By != "network:192.0.2.0/24" {
		t.Errorf("match = %+v", m)
	}
	// Remembered again with another address: the new one first, the old behind.
	r, err := b.Remember(ctx, Record{Kind: contactbook.KindNetwork, Match: "192.0.2.0/24", Emails: []string{"desk@hoster.nl"}, By: "bob", Note: "the desk answers"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Emails, []string{"desk@hoster.nl", "abuse@hoster.nl"}) || r.By != "bob" {
		t.Errorf("merged record = %+v", r)
	}
	waitFor(t, b, "www.site.nl", "192.0.2.7", "desk@hoster.nl")
	recs, err := b.Records(ctx)
	if err != nil || len(recs) != 1 || recs[0].Key() != "network.192.0.2.0/24" {
		t.Errorf("Records = %+v, %v", recs, err)
	}
	if err := b.Forget(ctx, "network.192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := b.Lookup("www.site.nl", []netip.Addr{netip.MustParseAddr("192.0.2.7")}, nil); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a forgotten contact is still looked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, key := range []string{"network.192.0.2.0/24", "a b", "..", ""} {
		if err := b.Forget(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Forget(%q) = %v, want not found", key, err)
		}
	}
}

func TestRecordChecks(t *testing.T) {
	t.Parallel()
	for _, r := range []Record{
		{Kind: "host", Match: "a.nl", Emails: []string{"a@a.nl"}},
		{Kind: contactbook.KindDomain, Match: "a.nl", Emails: []string{"not an address"}},
		{Kind: contactbook.KindNetwork, Match: "192.0.2.1/24", Emails: []string{"a@a.nl"}},
		{Kind: contactbook.KindASN, Match: "0", Emails: []string{"a@a.nl"}},
		{Kind: contactbook.KindDomain, Match: "a.nl"},
	} {
		if err := r.Check(); err == nil {
			t.Errorf("%+v passes the check", r)
		}
	}
	if err := (Record{Kind: contactbook.KindNetwork, Match: "2001:db8::/32", Emails: []string{"a@a.nl"}}).Check(); err != nil {
		t.Error(err)
	}
}

// TestLayers: the most specific match of either layer wins; where both
// claim the same network, the runtime record does.
func TestLayers(t *testing.T) {
	t.Parallel()
	b := openBook(t)
	file, err := contactbook.Parse([]byte(`contacts:
  - {name: File net, networks: [192.0.2.0/24], emails: [file-net@hoster.nl]}
  - {name: File site, domains: [site.nl], emails: [file-site@site.nl]}
  - {name: File wide, networks: [198.51.100.0/22], emails: [file-wide@hoster.nl]}
`), "contacts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	layers := contactbook.Layers{b, file}
	for _, r := range []Record{
		{Kind: contactbook.KindNetwork, Match: "192.0.2.0/24", Emails: []string{"kv-net@hoster.nl"}, By: "alice"},
		{Kind: contactbook.KindNetwork, Match: "198.51.100.0/24", Emails: []string{"kv-narrow@hoster.nl"}, By: "alice"},
		{Kind: contactbook.KindASN, Match: "64500", Emails: []string{"kv-as@transit.nl"}, By: "alice"},
	} {
		if _, err := b.Remember(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, layers, "", "192.0.2.1", "kv-net@hoster.nl")             // same network: runtime wins
	waitFor(t, layers, "www.site.nl", "192.0.2.1", "file-site@site.nl") // a domain beats a network
	waitFor(t, layers, "", "198.51.100.9", "kv-narrow@hoster.nl")       // the longer prefix
	waitFor(t, layers, "", "198.51.101.9", "file-wide@hoster.nl")       // only the file's covers it
	waitFor(t, layers, "", "203.0.113.1", "kv-as@transit.nl")           // only the AS matches
}
