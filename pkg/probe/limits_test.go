package probe

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// TestPerHostConcurrency counts in-flight requests on the server, per Host
// header: the limit must hold for each host, and must not be global.
func TestPerHostConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit int
	}{
		{"one", 1},
		{"two", 2},
		{"three", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := hostersim.Start(t)
			// Long enough that every queued probe overlaps the ones ahead.
			srv.SetDefault(hostersim.Delay(20*time.Millisecond, hostersim.Content([]byte("x"))))
			hosts := []string{"a.test", "b.test"}
			cfg := Config{AllowPrivate: true, PerHostConcurrency: tt.limit, ConnectTo: map[string]string{}}
			for _, h := range hosts {
				cfg.ConnectTo[h+":80"] = srv.Addr()
			}
			p := newTestProber(t, cfg, nil)
			var wg sync.WaitGroup
			for i := range 8 * tt.limit {
				for _, h := range hosts {
					wg.Go(func() {
						got := p.Probe(t.Context(), Request{URL: fmt.Sprintf("http://%s/m%d", h, i)})
						checkResult(t, got, Online, ReasonOK)
					})
				}
			}
			wg.Wait()
			for _, h := range hosts {
				if got := srv.MaxInFlightHost(h); got != tt.limit {
					t.Errorf("max in flight for %s = %d, want exactly the limit %d", h, got, tt.limit)
				}
			}
			if got := srv.MaxInFlight(); got <= int64(tt.limit) {
				t.Errorf("max in flight overall = %d, want more than one host's limit %d", got, tt.limit)
			}
		})
	}
}

// TestPerHostRate steps the prober's clock: with one request per second
// and no burst, a second probe in the same instant is held back locally
// and never reaches the hoster; a second later it goes through.
func TestPerHostRate(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/m", hostersim.Content([]byte("x")))
	srv.Set("/n", hostersim.Content([]byte("x")))
	clock := newStepClock()
	cfg := Config{
		AllowPrivate: true, PerHostRate: 1, PerHostBurst: 1,
		ConnectTo: map[string]string{"a.test:80": srv.Addr(), "b.test:80": srv.Addr()},
	}
	p, err := New(cfg, discardLogger(), clock.Now, fakeResolver{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer p.Close()
	probe := func(url string) Result {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		return p.Probe(ctx, Request{URL: url})
	}
	checkResult(t, probe("http://a.test/m"), Online, ReasonOK)
	checkResult(t, probe("http://a.test/m"), Inconclusive, ReasonLocalLimit)
	checkResult(t, probe("http://b.test/n"), Online, ReasonOK)
	if h := srv.Hits("/m"); h != 1 {
		t.Errorf("hits on /m = %d, want 1", h)
	}
	clock.Advance(time.Second)
	checkResult(t, probe("http://a.test/m"), Online, ReasonOK)
}

func TestHostLimitsForgetIdleHosts(t *testing.T) {
	t.Parallel()
	const hosts = 3 * sweepEvery
	tests := []struct {
		name      string
		perSecond float64
		advance   time.Duration
		min, max  int
	}{
		{"unlimited rate", 0, 0, 1, sweepEvery},
		{"rested buckets", 10, time.Second, 1, sweepEvery},
		{"buckets still refilling", 10, 0, hosts, hosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock()
			l := newHostLimits(1, tt.perSecond, 1, clock.Now)
			for i := range hosts {
				release, err := l.acquire(t.Context(), fmt.Sprintf("h%d.test", i))
				if err != nil {
					t.Fatalf("acquire: %v", err)
				}
				release()
				if i%sweepEvery == sweepEvery-2 {
					clock.Advance(tt.advance)
				}
			}
			if got := l.size(); got < tt.min || got > tt.max {
				t.Errorf("tracking %d hosts, want %d to %d", got, tt.min, tt.max)
			}
		})
	}
}
