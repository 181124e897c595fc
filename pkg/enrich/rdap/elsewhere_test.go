package rdap

import (
	"errors"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// TestCatchAllOverrideKeepsEveryLookupOnLoopback looks up a .nl domain,
// whose registry (SIDN) the simulation does not serve: the "*" override
// sends it to the simulation's stand-in, which has no data, instead of to
// rdap.sidn.nl — and the answer is still credited to the real host.
func TestCatchAllOverrideKeepsEveryLookupOnLoopback(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	c := newClient(t, sim, fastConfig(sim), nil)
	_, err := c.LookupDomain(t.Context(), "hoster-a.nl")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("LookupDomain(hoster-a.nl) = %v, want no data", err)
	}
	if got := sim.Server(rdapsim.Elsewhere).Queries(); got != 1 {
		t.Errorf("stand-in saw %d queries, want 1", got)
	}
	if target, host, err := c.rewrite("https://rdap.sidn.nl/domain/hoster-a.nl"); err != nil || host != "rdap.sidn.nl" || target != sim.Server(rdapsim.Elsewhere).Base()+"domain/hoster-a.nl" {
		t.Errorf("rewrite = %q credited to %q (%v)", target, host, err)
	}
}
