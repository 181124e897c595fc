package app

import (
	"fmt"
	"testing"

	"github.com/takedownd/takedownd/pkg/broker"
)

// TestTwoReplicasShareTheWork runs a second daemon against the first one's
// NATS (as replicas against a cluster do): both set up the same streams
// and consumers at once, share the intake, and every report still ends up
// in exactly one case, one case per URL.
func TestTwoReplicasShareTheWork(t *testing.T) {
	t.Parallel()
	const reports, urls = 2000, 1500
	first := startDaemon(t, testConfig(t.TempDir()))
	cfg := testConfig(t.TempDir())
	cfg.NATS.URLs = []string{first.app.NATSURL()}
	cfg.NATS.NKeyFile = broker.SeedFile(first.keyDir, broker.RoleDaemon)
	second := startDaemon(t, cfg)
	if second.app.NATSURL() != "" {
		t.Fatal("the second replica embedded a server of its own")
	}

	payloads := make([][]byte, reports)
	for i := range reports {
		payloads[i] = mustJSON(t, report(fmt.Sprintf("bench-%d", i), fmt.Sprintf("http://h%d.example.nl/%d.jpg", i%urls%37, i%urls)))
	}
	publishAll(t, first.js, "bench-%d", payloads) // with Nats-Msg-Id bench-<i>, the report ids
	first.settle()

	wantOneCasePerReport(t, second.app.Store(), "bench-%d", reports, urls)
}
