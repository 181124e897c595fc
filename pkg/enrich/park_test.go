package enrich

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// With one worker, a case whose network's RDAP answer is held up (a
// registry's queue) is parked: the case behind it, on a network the
// registry answers, is enriched meanwhile. Once the answer comes the
// first case is enriched too, from one query.
func TestAParkedCaseLetsTheNextPass(t *testing.T) {
	t.Parallel()
	asked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var gaveUp atomic.Int32 // held requests the client stopped waiting for
	sim, err := rdapsim.New(rdapsim.Options{Addr: "127.0.0.1:0", Wrap: func(registry string, h http.Handler) http.Handler {
		if registry != "ripe" {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(asked) })
			select {
			case <-release:
				h.ServeHTTP(w, r)
			case <-r.Context().Done():
				gaveUp.Add(1)
			}
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	w := &world{DNS: dnssim.Start(t), RDAP: sim}
	w.network(t, "ripe", rdapsim.Network{Prefix: mustPrefix("185.60.1.0/24"), Handle: "SLOW-NET", AbuseEmail: "abuse@slow.example"}, "NL", 64520, "Slow B.V.")
	w.network(t, "arin", rdapsim.Network{Prefix: mustPrefix("104.20.0.0/24"), Handle: "NET-QUICK", AbuseEmail: "abuse@quick.example"}, "US", 64521, "Quick Inc.")
	w.DNS.AddAddr("www.slow.nl", 300, mustAddr("185.60.1.10"))
	w.DNS.AddAddr("www.quick.com", 300, mustAddr("104.20.0.10"))
	h := startStageWith(t, w.enricher(t, func(o *Options) { o.Prefetch = 4 }),
		StageConfig{Workers: 1, MaxParked: 10, AckWait: 5 * time.Second, MaxAttempts: 3, Backoff: []time.Duration{50 * time.Millisecond}})

	slow := h.file("http://www.slow.nl/a.jpg")
	<-asked
	quick := h.file("http://www.quick.com/b.jpg")
	got := h.waitEnriched(quick)
	if n := gaveUp.Load(); n > 0 {
		t.Errorf("the quick case passed only after the slow case's lookup timed out (%d)", n)
	}
	if c := got.Enrichment.Contacts; len(c) == 0 || c[0].Email != "abuse@quick.example" {
		t.Errorf("quick case contacts %+v", c)
	}
	if c, _, _ := h.store.GetCase(t.Context(), slow); c.State != takedown.StateReceived {
		t.Errorf("slow case %s before its network answered, want received", c.State)
	}
	close(release)
	got = h.waitEnriched(slow)
	if c := got.Enrichment.Contacts; len(c) == 0 || c[0].Email != "abuse@slow.example" {
		t.Errorf("slow case contacts %+v", c)
	}
	if n := sim.Server("ripe").Queries(); n != 1 {
		t.Errorf("%d queries at ripe, want 1 (the parked case's own lookup is answered from the cache)", n)
	}
}
