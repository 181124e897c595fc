package contacthealth

import (
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func TestKey(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[-/_=a-zA-Z0-9]+$`)
	tests := []struct{ addr, want string }{
		{"abuse@hoster-a.nl", "abuse=40hoster-a=2Enl"},
		{" Abuse@Hoster-A.NL ", "abuse=40hoster-a=2Enl"},
		{"abuse+td@x.example", "abuse=2Btd=40x=2Eexample"},
		{".odd..local.@x", "=2Eodd=2E=2Elocal=2E=40x"},
		{"a=40b@x", "a=3D40b=40x"},
	}
	for _, tt := range tests {
		if got := Key(tt.addr); got != tt.want || !valid.MatchString(got) {
			t.Errorf("Key(%q) = %q, want %q (a valid KV key)", tt.addr, got, tt.want)
		}
	}
	// '=' is escaped too, so no two addresses share a key.
	if Key("a.b@x") == Key("a=2Eb@x") {
		t.Error("two addresses share a key")
	}
}

// TestMarkFailingClearExpire: a mark is seen by every book on the bucket
// (another replica), counts its bounces, is dropped by Clear, and expires
// by itself after the bucket's TTL.
func TestMarkFailingClearExpire(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ttl := time.Second
	a, err := Open(t.Context(), st, ttl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), st, ttl) // the other replica
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.Mark(t.Context(), "Abuse@Hoster-A.nl", takedown.ContactHealth{Reason: "userunknown", Status: "5.1.1", Notice: "TD-20261126-7F3K2Q"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Failing(t.Context(), []string{"abuse@hoster-a.nl", "noc@hoster-a.nl", "ABUSE@hoster-a.nl"})
	if err != nil || len(got) != 1 || got[0] != "abuse@hoster-a.nl" {
		t.Fatalf("failing %v (%v), want abuse@hoster-a.nl once", got, err)
	}
	rec, _, err := b.records.Get(t.Context(), Key("abuse@hoster-a.nl"))
	if err != nil || rec.Bounces != 2 || rec.Reason != "userunknown" || rec.Since.IsZero() {
		t.Errorf("record %+v (%v), want 2 bounces with the reason", rec, err)
	}
	if cleared, err := b.Clear(t.Context(), "abuse@hoster-a.nl"); err != nil || !cleared {
		t.Fatalf("clear: %v, %v", cleared, err)
	}
	if got, _ := a.Failing(t.Context(), []string{"abuse@hoster-a.nl"}); len(got) != 0 {
		t.Errorf("failing %v after clear", got)
	}
	if cleared, err := b.Clear(t.Context(), "abuse@hoster-a.nl"); err != nil || cleared {
		t.Errorf("second clear: %v, %v; want nothing to clear", cleared, err)
	}

	// Marked again, it is tried again once the mark has expired.
	if err := a.Mark(t.Context(), "abuse@hoster-a.nl", takedown.ContactHealth{Reason: "userunknown"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := b.Failing(t.Context(), []string{"abuse@hoster-a.nl"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
