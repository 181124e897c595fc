package store

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// createKey answers as jetstream.KeyValue.Create does, on its own path and
// on nats.go's: a new key, a taken one (with its holder), a key deleted
// before, a key nats.go must escape.
func TestCreateKey(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := t.Context()
	kv := st.urls
	rev, holds, err := st.createKey(ctx, kv, "k1", []byte("a"))
	if err != nil || rev == 0 || holds != nil {
		t.Fatalf("new key: rev %d, holder %v, err %v; want a revision", rev, holds, err)
	}
	if e, err := kv.Get(ctx, "k1"); err != nil || string(e.Value()) != "a" || e.Revision() != rev {
		t.Fatalf("new key reads %v, %v; want a at %d", e, err, rev)
	}
	_, holds, err = st.createKey(ctx, kv, "k1", []byte("b"))
	if !errors.Is(err, jetstream.ErrKeyExists) || !IsConflict(err) {
		t.Fatalf("taken key: err %v, want ErrKeyExists", err)
	}
	if holds == nil || string(holds.Value()) != "a" || holds.Revision() != rev {
		t.Fatalf("taken key: holder %v, want a at %d", holds, rev)
	}
	if err := kv.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	rev2, _, err := st.createKey(ctx, kv, "k1", []byte("c"))
	if err != nil || rev2 <= rev {
		t.Fatalf("deleted key: rev %d, err %v; want a revision after %d", rev2, err, rev)
	}
	if _, _, err := st.createKey(ctx, kv, "bad key", []byte("d")); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: err %v, want ErrInvalidKey from nats.go", err)
	}
}

func TestPlainAck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ack  string
		seq  uint64
		ok   bool
		name string
	}{
		{`{"stream":"KV_x","seq":42}`, 42, true, "plain"},
		{`{"stream":"KV_x","domain":"hub","seq":7}`, 7, true, "with domain"},
		{`{"stream":"KV_x","seq":42,"duplicate": true}`, 0, false, "duplicate"},
		{`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"KV_x","seq":0}`, 0, false, "error first"},
		{`{"stream":"KV_x","seq":0,"error":{"code":503}}`, 0, false, "error after"},
		{`{"stream":"KV_x","seq":}`, 0, false, "no number"},
		{`{"type":"io.nats.jetstream.api.v1.pub_ack"}`, 0, false, "other shape"},
	}
	for _, tt := range tests {
		seq, ok := plainAck([]byte(tt.ack))
		if seq != tt.seq || ok != tt.ok {
			t.Errorf("%s: plainAck = %d, %v; want %d, %v", tt.name, seq, ok, tt.seq, tt.ok)
		}
	}
}

func TestPlainKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"0123abcdef": true, "a.b": true, "A-b_c/d=e": true,
		"": false, ".a": false, "a.": false, "a b": false, "a*": false, "a>": false, "é": false,
	} {
		if got := plainKey(key); got != want {
			t.Errorf("plainKey(%q) = %v, want %v", key, got, want)
		}
	}
}
