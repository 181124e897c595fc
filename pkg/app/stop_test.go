package app

import (
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// newRelay is a simulated relay that answers every recipient with f.
func newRelay(t *testing.T, f smtpsim.Fault) *smtpsim.Server {
	t.Helper()
	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	relay.SetFault("", f)
	return relay
}

// stopBound is the shutdown_timeout of the sending daemons: the default.
// A stop abandons the work in hand a quarter of the bound (at most 5s)
// before its end and gives the parts half of that to return, the cleanups
// the rest: with 2s, a quarter of a second each, the stop overran on a
// busy 2-core machine ("stop nats: context deadline exceeded", 14 of 18
// at load average 30) though nothing was stuck. Still far under the 10
// minutes a stalled send would take.
const stopBound = 20 * time.Second

// sendingConfig is a daemon that sends every notice at once through relay,
// with a short ack wait, and SMTP deadlines long enough that a stalled
// relay holds a send for the whole test.
func sendingConfig(dir string, relay *smtpsim.Server) config.Config {
	cfg := testConfig(dir)
	cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port, cfg.Notify.SMTP.TLS = relay.Host(), relay.Port(), "none"
	cfg.Notify.SMTP.MessageTimeout, cfg.Notify.SMTP.CommandTimeout = 10*time.Minute, 10*time.Minute
	cfg.Notify.BatchWindow = 0
	cfg.Notify.AckWait = time.Second
	cfg.ShutdownTimeout = stopBound
	return cfg
}

// waitSending waits until the daemon is in the middle of sending the
// case's first notice through relay.
func (d *daemon) waitSending(id string, relay *smtpsim.Server) {
	d.t.Helper()
	d.waitCase(id, func(c takedown.Case) bool { return len(c.Notices) > 0 && c.Notices[0].Outcome == "sending" })
	deadline := time.Now().Add(waitBound)
	for relay.Connections() == 0 {
		if time.Now().After(deadline) {
			d.t.Fatal("the daemon never connected to the relay")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A stop while a notice is being sent to a relay that stalls ends within
// shutdown_timeout, and cleanly; the send that could not finish is left
// to redelivery: the next start sends the notice.
func TestStopIsBoundedAndLeavesUnfinishedWorkToRedelivery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stalled := newRelay(t, smtpsim.Stall)
	d := startDaemon(t, sendingConfig(dir, stalled))
	id := createEnrichedCase(t, d, "0000000000000B01", "abuse@hoster-a.nl")
	d.waitSending(id, stalled)

	start := time.Now()
	d.nc.Close()
	d.anc.Close()
	d.stop()
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("stop during a send: %v, want a clean stop", err)
		}
	case <-time.After(waitBound): // well under the 10 minutes the send alone would take
		t.Fatalf("the stop was not bounded by shutdown_timeout (%s)", stopBound)
	}
	d.stop = nil
	t.Logf("stopped in %s with a send in hand (shutdown_timeout %s)", time.Since(start).Round(time.Millisecond), stopBound)

	good := newRelay(t, smtpsim.OK)
	d2 := startDaemon(t, sendingConfig(dir, good))
	d2.waitRelayed(good, "abuse@hoster-a.nl")
	d2.waitCase(id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	if n := len(stalled.Messages()); n != 0 {
		t.Errorf("the stalled relay accepted %d messages", n)
	}
}

// A replica that takes a notice's flush and dies in the middle of the send
// (its connection to NATS closes, nothing is acked) loses it to the other
// replica once the ack wait (1s here) has run out — not minutes later —
// and the notice goes out once. While the first replica lived, progress
// kept the flush its own.
func TestDeadReplicasWorkIsTakenOverWithinTheAckWait(t *testing.T) {
	t.Parallel()
	stalled := newRelay(t, smtpsim.Stall)
	first := startDaemon(t, sendingConfig(t.TempDir(), stalled))
	id := createEnrichedCase(t, first, "0000000000000R01", "abuse@hoster-a.nl")
	first.waitSending(id, stalled)

	good := newRelay(t, smtpsim.OK)
	cfg := sendingConfig(t.TempDir(), good)
	cfg.NATS.URLs = []string{first.app.NATSURL()}
	cfg.NATS.NKeyFile = broker.SeedFile(first.keyDir, broker.RoleDaemon)
	second := startDaemon(t, cfg)
	second.waitReady()

	// The first replica dies: its NATS connection goes, its send hangs on.
	first.app.broker.Conn.Close()
	first.dead = true

	start := time.Now()
	second.waitRelayed(good, "abuse@hoster-a.nl")
	t.Logf("taken over %s after the replica died (ack wait 1s)", time.Since(start).Round(time.Millisecond))
	second.waitCase(id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	if n := len(good.Messages()); n != 1 {
		t.Errorf("the notice went out %d times, want once", n)
	}
}
