package world

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/takedownd/takedownd/pkg/config"
)

func TestPaceCountsWhatTheLimitDoesNotAllow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	lim := map[string]config.RDAPLimit{"r.test": {PerMinute: 60, Burst: 2}}
	tests := []struct {
		name     string
		arrivals []time.Duration
		tooFast  int64
	}{
		{"a burst, then the rate", []time.Duration{0, 0, time.Second, 2 * time.Second, 3 * time.Second}, 0},
		// Capacity is burst 2 + 1 + 1 s of slack at 1/s = 4.
		{"four at once pass the slack", []time.Duration{0, 0, 0, 0}, 0},
		{"six at once: two too many", []time.Duration{0, 0, 0, 0, 0, 0}, 2},
		// The sixth costs no token, so a client going on at the limit
		// after it is not too fast.
		{"six at once, then the rate: two", []time.Duration{0, 0, 0, 0, 0, 0, time.Second, 2 * time.Second, 3 * time.Second}, 2},
		{"twice the rate: every second one", []time.Duration{0, 0, 0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}, 2},
		{"out of order arrivals", []time.Duration{2 * time.Second, time.Second, 3 * time.Second, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPace(lim, config.RDAPLimit{PerMinute: 60, Burst: 5}, time.Second, func() time.Time { return t0 })
			for _, a := range tt.arrivals {
				p.observe("r.test", t0.Add(a), 200, "")
			}
			if got := p.Report()[0].TooFast; got != tt.tooFast {
				t.Errorf("too fast = %d, want %d", got, tt.tooFast)
			}
		})
	}
	t.Run("retry-after", func(t *testing.T) {
		t.Parallel()
		now := t0
		p := newPace(lim, config.RDAPLimit{}, time.Second, func() time.Time { return now })
		now = t0.Add(100 * time.Millisecond) // the 429 is answered 100 ms after it arrived
		p.observe("r.test", t0, http.StatusTooManyRequests, "10")
		// Sent before the 429 came back: not early.
		p.observe("r.test", t0.Add(50*time.Millisecond), 200, "")
		p.observe("r.test", t0.Add(4*time.Second), 200, "")
		p.observe("r.test", t0.Add(11*time.Second), 200, "")
		r := p.Report()[0]
		if r.Limited != 1 || r.Early != 1 || r.EarliestBy != 6*time.Second {
			t.Errorf("report = %+v, want one 429 and one request 6s early", r)
		}
	})
}

// TestPaceAcceptsALimitedClient sends requests from many goroutines
// through a token bucket of the published limit to a world RDAP server:
// the pace check must find nothing, or it would accuse a polite daemon.
func TestPaceAcceptsALimitedClient(t *testing.T) {
	t.Parallel()
	w, err := Start(t.Context(), Options{Dir: t.TempDir(), Listen: FreeAddrs,
		RDAPLimits: map[string]config.RDAPLimit{"rdap.verisign.com": {PerMinute: 600, Burst: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	lim := rate.NewLimiter(rate.Limit(600.0/60), 5)
	base := w.RDAP.Server("verisign").Base()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if err := lim.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				resp, err := http.Get(base + "domain/none" + string(rune('a'+g)) + string(rune('a'+i)) + ".com")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for _, r := range w.Pace().Report() {
		if r.Server == "rdap.verisign.com" && (r.Requests != 80 || r.TooFast != 0) {
			t.Errorf("verisign: %+v, want 80 requests none too fast", r)
		}
	}
}
