package natsfwd

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
)

func TestForward(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	if _, err := ns.JS.CreateStream(t.Context(), jetstream.StreamConfig{Name: "PARTNERS", Subjects: []string{"partner.js.>"}}); err != nil {
		t.Fatal(err)
	}
	sub, err := ns.Conn.SubscribeSync("partner.plain.>")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	body := []byte(`{"reference":"TD-1"}`)
	tests := []struct {
		name      string
		js        bool
		subject   string
		ref       string
		times     int
		wantDup   bool
		wantStore string
		wantPlain bool
		wantErr   bool
		wantRetry bool
	}{
		{name: "stream", js: true, subject: "partner.js.be", ref: "TD-JS-1", times: 1, wantStore: "PARTNERS"},
		{name: "stream resend is a duplicate", js: true, subject: "partner.js.de", ref: "TD-JS-2", times: 2, wantDup: true, wantStore: "PARTNERS"},
		{name: "plain subject", js: true, subject: "partner.plain.fr", ref: "TD-P-1", times: 1, wantPlain: true},
		{name: "plain without jetstream", subject: "partner.plain.it", ref: "TD-P-2", times: 1, wantPlain: true},
		{name: "bad subject", subject: "partner bad", ref: "TD-B", times: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var js jetstream.JetStream
			if tt.js {
				js = ns.JS
			}
			f := New(ns.Conn, js, time.Second, logger)
			var res Result
			for range tt.times {
				res = f.Forward(t.Context(), tt.subject, tt.ref, body)
			}
			if (res.Err != nil) != tt.wantErr || res.Retry != tt.wantRetry {
				t.Fatalf("result = %+v, want err %v retry %v", res, tt.wantErr, tt.wantRetry)
			}
			if res.Stream != tt.wantStore || res.Duplicate != tt.wantDup {
				t.Errorf("stored in %q duplicate %v, want %q %v", res.Stream, res.Duplicate, tt.wantStore, tt.wantDup)
			}
			if tt.wantPlain {
				m, err := sub.NextMsg(time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != tt.subject || m.Header.Get(jetstream.MsgIDHeader) != tt.ref || string(m.Data) != string(body) {
					t.Errorf("plain message %s %v %q", m.Subject, m.Header, m.Data)
				}
			}
		})
	}
	info, err := ns.JS.Stream(t.Context(), "PARTNERS")
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("stream holds %d forwards, want 2 (the resend deduplicated)", n)
	}
}
