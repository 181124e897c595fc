package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWaitsHonourRetryAfter records the waits instead of sleeping them.
func TestWaitsHonourRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		status     int
		wantWait   time.Duration
		maxWait    time.Duration
	}{
		{name: "seconds", retryAfter: "7", status: 429, wantWait: 7 * time.Second},
		{name: "http date", retryAfter: now.Add(30 * time.Second).Format(http.TimeFormat), status: 503, wantWait: 30 * time.Second},
		{name: "capped", retryAfter: "3600", status: 429, wantWait: time.Minute},
		{name: "no header uses jittered backoff", status: 502, maxWait: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls++
				if calls == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(tt.status)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			f, err := New(Config{URL: srv.URL, Secret: []byte("s"), BaseBackoff: 2 * time.Second}, srv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			f.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			res := f.Forward(t.Context(), "TD-W", []byte(`{}`))
			if res.Err != nil || len(waits) != 1 {
				t.Fatalf("result %+v waits %v", res, waits)
			}
			if tt.wantWait != 0 && waits[0] != tt.wantWait {
				t.Errorf("waited %v, want %v", waits[0], tt.wantWait)
			}
			if tt.maxWait != 0 && (waits[0] <= 0 || waits[0] > tt.maxWait) {
				t.Errorf("waited %v, want (0, %v]", waits[0], tt.maxWait)
			}
		})
	}
}

func TestStalledPartnerTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: cleanups run last-in, first-out
	f, err := New(Config{URL: srv.URL, Secret: []byte("s"), Timeout: 50 * time.Millisecond, MaxAttempts: 2}, srv.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.sleep = func(context.Context, time.Duration) error { return nil }
	res := f.Forward(t.Context(), "TD-T", []byte(`{}`))
	if !res.Retry || res.Err == nil || res.Status != 0 || res.Attempts != 2 {
		t.Errorf("result = %+v, want two timed-out attempts marked retry", res)
	}
}
