package load

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// KillSteps SIGKILLs a daemon kills times, evenly spread over the
// reports, and starts it again each time; with several daemons it takes
// them in turn.
func KillSteps(reports, kills, daemons int) []Step {
	steps := make([]Step, 0, kills)
	for k := 1; k <= kills; k++ {
		i := (k - 1) % max(daemons, 1)
		steps = append(steps, Step{
			Name:     fmt.Sprintf("SIGKILL takedownd-%d and start it again (%d of %d)", i, k, kills),
			AtReport: reports * k / (kills + 1),
			Do:       func(ctx context.Context, r *Run) error { return r.KillDaemon(ctx, i, true) },
		})
	}
	return steps
}

// SMTPSteps make the relay answer 4xx to rate of MAIL, RCPT and DATA
// from the first report; halfway through the reports the relay is gone
// (its port refuses connections) for down, and the 4xx stop tempFor
// after it is back.
func SMTPSteps(reports int, rate float64, down, tempFor time.Duration) []Step {
	return []Step{
		{Name: fmt.Sprintf("relay answers 4xx to %.0f %% of MAIL, RCPT and DATA", rate*100), AtReport: 0,
			Do: func(_ context.Context, r *Run) error { r.World.Relay.SetTempFailRate(rate); return nil }},
		{Name: "relay gone (connections reset)", AtReport: reports / 2,
			Do: func(_ context.Context, r *Run) error { return r.World.Relay.SetDown(true) }},
		{Name: "relay back", After: down,
			Do: func(_ context.Context, r *Run) error { return r.World.Relay.SetDown(false) }},
		{Name: "relay answers every command again", After: tempFor,
			Do: func(_ context.Context, r *Run) error { r.World.Relay.SetTempFailRate(0); return nil }},
	}
}

// RDAPSteps make every registry answer 429 with Retry-After from the
// first report for limitedFor, then, after a pause as long, RIPE's and
// Verisign's servers drop every connection for down.
func RDAPSteps(retryAfter, limitedFor, down time.Duration) []Step {
	gone := []string{"ripe", "verisign"}
	return []Step{
		{Name: fmt.Sprintf("every RDAP server answers 429 with Retry-After %s", retryAfter), AtReport: 0,
			Do: func(_ context.Context, r *Run) error {
				r.World.SetRDAPFault(rdapsim.Fault{Status: 429, RetryAfter: retryAfter})
				return nil
			}},
		{Name: "RDAP servers answer again", After: limitedFor,
			Do: func(_ context.Context, r *Run) error { r.World.SetRDAPFault(rdapsim.Fault{}); return nil }},
		{Name: "RIPE's and Verisign's RDAP servers gone (connections dropped)", After: limitedFor,
			Do: func(_ context.Context, r *Run) error { r.World.SetRDAPDown(true, gone...); return nil }},
		{Name: "RIPE's and Verisign's RDAP servers back", After: down,
			Do: func(_ context.Context, r *Run) error { r.World.SetRDAPDown(false, gone...); return nil }},
	}
}

// NodeSteps lose a NATS node and a daemon replica a third of the way in,
// and bring both back after back: down and up are commands that stop and
// start the node (a cluster started by a script outside this tool); the
// replica lost is the last one, SIGKILLed.
func NodeSteps(reports int, down, up string, back time.Duration, daemons int) []Step {
	last := max(daemons, 1) - 1
	steps := []Step{
		{Name: "NATS node lost: " + down, AtReport: reports / 3,
			Do: func(ctx context.Context, _ *Run) error { return shell(ctx, down) }},
	}
	if daemons > 1 {
		steps = append(steps, Step{Name: fmt.Sprintf("SIGKILL takedownd-%d (a replica lost)", last), AtReport: reports / 3,
			Do: func(ctx context.Context, r *Run) error { return r.KillDaemon(ctx, last, false) }})
	}
	steps = append(steps, Step{Name: "NATS node back: " + up, After: back,
		Do: func(ctx context.Context, _ *Run) error { return shell(ctx, up) }})
	if daemons > 1 {
		steps = append(steps, Step{Name: fmt.Sprintf("takedownd-%d started again", last), After: time.Second,
			Do: func(ctx context.Context, r *Run) error { return r.StartDaemon(ctx, last) }})
	}
	return steps
}

// shell runs cmd with sh -c, its output to the tool's stderr.
func shell(ctx context.Context, cmd string) error {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("run %q: %w", cmd, err)
	}
	return nil
}
