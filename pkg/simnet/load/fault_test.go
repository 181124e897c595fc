package load

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// TestFaultRuns is takedownsim fault, scaled down for CI: the built
// takedownd binary against the world, SIGKILLed and restarted while the
// reports go in, with a mail relay that answers 4xx and goes away, and
// with RDAP servers that answer 429 with Retry-After and go away. Every
// run must keep every invariant and settle: each URL noticed, each
// removal confirmed. The daemon's waits are shortened (seconds where the
// defaults say minutes); the faults are the documented ones, smaller.
func TestFaultRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds takedownd and runs it for a minute or two")
	}
	bin := filepath.Join(t.TempDir(), "takedownd")
	build := exec.Command("go", "build", "-o", bin, "github.com/takedownd/takedownd/cmd/takedownd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build takedownd: %v\n%s", err, out)
	}
	mix, err := world.ParseShares("remove=80,never=10,move=5,cdn=5", world.Kinds...)
	if err != nil {
		t.Fatal(err)
	}
	fast := world.Daemon{
		BatchWindow: time.Second, ConfirmGone: 2, ConfirmSpacing: time.Second,
		Cadence: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second},
		// Sites' DNS answers live 2 s, so the checks see a site that moved.
		DNSMinTTL:          time.Second,
		NotifyRetryBackoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		EnrichBackoff:      []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
	}
	tests := []struct {
		name    string
		reports int
		rate    float64
		steps   []Step
		check   func(t *testing.T, r *Result)
	}{
		{"kill", 600, 150, KillSteps(600, 2, 1), func(t *testing.T, r *Result) {
			if r.Daemons[0].Starts != 3 {
				t.Errorf("daemon started %d times, want 3 (two kills)", r.Daemons[0].Starts)
			}
		}},
		{"smtp", 300, 0, SMTPSteps(300, 0.3, 4*time.Second, 4*time.Second), func(t *testing.T, r *Result) {
			if len(r.Steps) != 4 || r.Relay.TempFailures == 0 {
				t.Errorf("steps taken: %q; %d commands answered 4xx: the fault missed the run", r.Steps, r.Relay.TempFailures)
			}
		}},
		{"rdap", 300, 0, RDAPSteps(2*time.Second, 5*time.Second, 4*time.Second), func(t *testing.T, r *Result) {
			var limited int64
			for _, s := range r.RDAP.Servers {
				limited += s.Limited
			}
			if limited == 0 {
				t.Error("no RDAP request met a 429: the fault missed the run")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
			defer cancel()
			res, err := Execute(ctx, Options{
				Dir: dir, Scenario: tt.name, Reports: tt.reports, Dup: 0.05, Rate: tt.rate, Window: 100,
				World:    world.Options{SiteTTL: 2 * time.Second, Plan: world.Plan{Hosts: 40, Networks: 12, Domains: 8, Mix: mix, RemoveAfter: [2]time.Duration{time.Second, 3 * time.Second}, Seed: 7}},
				Schedule: fast, Daemon: Daemon{Binary: bin}, Settle: 4 * time.Minute, StuckAfter: time.Minute, Steps: tt.steps,
			})
			if err != nil {
				t.Fatalf("run: %v\n%s", err, logTail(dir))
			}
			var out strings.Builder
			res.Print(&out)
			for _, iv := range res.Broken() {
				t.Errorf("invariant broken: %s = %d", iv.Name, iv.Value)
			}
			if !res.Settled {
				t.Error("the run did not settle: not every URL noticed or removal confirmed")
			}
			tt.check(t, res)
			if t.Failed() {
				t.Logf("result:\n%s\ndaemon log:\n%s", out.String(), logTail(dir))
			}
		})
	}
}

// logTail is the end of the first daemon's log.
func logTail(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "takedownd-0.log"))
	if k := os.Getenv("TAKEDOWNSIM_KEEP"); k != "" {
		_ = os.WriteFile(filepath.Join(k, filepath.Base(dir)+".log"), b, 0o644)
	}
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}
