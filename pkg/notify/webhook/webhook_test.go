package webhook_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/notify/webhook"
	"github.com/takedownd/takedownd/pkg/simnet/webhooksim"
)

var secret = []byte("partner-secret")

func TestForward(t *testing.T) {
	t.Parallel()
	body := []byte(`{"reference":"TD-1","items":[]}`)
	tests := []struct {
		name         string
		secret       []byte
		fail         func(*webhooksim.Receiver)
		wantAttempts int
		wantRetry    bool
		wantErr      bool
		wantStatus   int
		wantDelivers int
	}{
		{name: "accepted", wantAttempts: 1, wantStatus: 202, wantDelivers: 1},
		{name: "5xx then accepted", fail: func(r *webhooksim.Receiver) { r.FailNext(2, 503, "") }, wantAttempts: 3, wantStatus: 202, wantDelivers: 1},
		{name: "429 with Retry-After then accepted", fail: func(r *webhooksim.Receiver) { r.FailNext(1, 429, "1") }, wantAttempts: 2, wantStatus: 202, wantDelivers: 1},
		{name: "4xx is not retried", fail: func(r *webhooksim.Receiver) { r.FailNext(1, 400, "") }, wantAttempts: 1, wantErr: true, wantStatus: 400},
		{name: "5xx to the last attempt", fail: func(r *webhooksim.Receiver) { r.FailNext(10, 500, "") }, wantAttempts: 4, wantRetry: true, wantErr: true, wantStatus: 500},
		{name: "wrong secret is refused", secret: []byte("other"), wantAttempts: 1, wantErr: true, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := webhooksim.New(secret, time.Now, time.Minute)
			t.Cleanup(rcv.Close)
			if tt.fail != nil {
				tt.fail(rcv)
			}
			s := secret
			if tt.secret != nil {
				s = tt.secret
			}
			f, err := webhook.New(webhook.Config{URL: rcv.URL(), Secret: s, MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
				rcv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			res := f.Forward(t.Context(), "TD-1", body)
			if res.Attempts != tt.wantAttempts || res.Retry != tt.wantRetry || (res.Err != nil) != tt.wantErr || res.Status != tt.wantStatus {
				t.Errorf("result = %+v, want attempts %d retry %v err %v status %d", res, tt.wantAttempts, tt.wantRetry, tt.wantErr, tt.wantStatus)
			}
			ds := rcv.Deliveries()
			if len(ds) != tt.wantDelivers {
				t.Fatalf("receiver accepted %d forwards, want %d", len(ds), tt.wantDelivers)
			}
			if len(ds) == 1 && (ds[0].Key != "TD-1" || !bytes.Equal(ds[0].Body, body)) {
				t.Errorf("delivery = %+v", ds[0])
			}
		})
	}
}

func TestForwardTwiceKeepsKey(t *testing.T) {
	t.Parallel()
	rcv := webhooksim.New(secret, time.Now, time.Minute)
	t.Cleanup(rcv.Close)
	f, err := webhook.New(webhook.Config{URL: rcv.URL(), Secret: secret}, rcv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if res := f.Forward(t.Context(), "TD-9", []byte(`{}`)); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	ds := rcv.Deliveries()
	if len(ds) != 2 || ds[0].Duplicate || !ds[1].Duplicate {
		t.Errorf("deliveries = %+v, want the second marked duplicate by its key", ds)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	body := []byte(`{"reference":"TD-1"}`)
	good := webhook.Sign(secret, ts, body)
	tests := []struct {
		name    string
		secret  []byte
		ts      string
		body    []byte
		sig     string
		now     time.Time
		wantErr bool
	}{
		{name: "valid", secret: secret, ts: ts, body: body, sig: good, now: now},
		{name: "valid within skew", secret: secret, ts: ts, body: body, sig: good, now: now.Add(4 * time.Minute)},
		{name: "body changed", secret: secret, ts: ts, body: []byte(`{"reference":"TD-2"}`), sig: good, now: now, wantErr: true},
		{name: "timestamp changed", secret: secret, ts: "1800000001", body: body, sig: good, now: now, wantErr: true},
		{name: "other secret", secret: []byte("x"), ts: ts, body: body, sig: good, now: now, wantErr: true},
		{name: "too old", secret: secret, ts: ts, body: body, sig: good, now: now.Add(6 * time.Minute), wantErr: true},
		{name: "from the future", secret: secret, ts: ts, body: body, sig: good, now: now.Add(-6 * time.Minute), wantErr: true},
		{name: "no prefix", secret: secret, ts: ts, body: body, sig: good[len("sha256="):], now: now, wantErr: true},
		{name: "not hex", secret: secret, ts: ts, body: body, sig: "sha256=zz", now: now, wantErr: true},
		{name: "bad timestamp", secret: secret, ts: "yesterday", body: body, sig: good, now: now, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tt.secret, tt.ts, tt.body, tt.sig, tt.now, 5*time.Minute)
			if (err != nil) != tt.wantErr {
				t.Errorf("Verify() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  webhook.Config
	}{
		{name: "no url", cfg: webhook.Config{Secret: secret}},
		{name: "no secret", cfg: webhook.Config{URL: "https://partner.example/hook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := webhook.New(tt.cfg, http.DefaultClient, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now); err == nil {
				t.Error("New accepted an incomplete config")
			}
		})
	}
}
