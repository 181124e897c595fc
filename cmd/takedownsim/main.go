// Command takedownsim is the simulated internet takedownd runs against,
// and the tools that drive a daemon through it:
//
//	takedownsim world   start the world and write the daemon's config
//	takedownsim load    drive a daemon through a world of a given size
//	takedownsim fault   the same with crashes and faults, checking invariants
//	takedownsim cadence simulate re-check policies in virtual time
//	takedownsim help    explain every sub-command and flag
//
// Its logic lives in pkg/simnet/world, pkg/simnet/load and
// pkg/simnet/cadence; nothing in production imports them.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "world":
		return runWorld(args[1:], stdout, stderr)
	case "load":
		return runLoad(args[1:], stdout, stderr)
	case "fault":
		return runFault(args[1:], stdout, stderr)
	case "cadence":
		return runCadence(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "takedownsim: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `takedownsim is the simulated internet takedownd runs against: DNS, the RDAP
registries (the captured answers in shared/fixtures/rdap plus generated
networks and domains), GeoIP files, the hosters' web servers with their
behaviours, a mail relay that keeps every message, and a partner hotline's
webhook, all on loopback. Nothing it runs reaches the real internet.

Usage:

  takedownsim world [flags]          start the world, write the daemon's config, print
                                     where everything is and the demo URLs
  takedownsim load [flags]           a world of the size the flags say, a daemon (started
                                     with -daemon, or attached), N reports; prints what
                                     it measured and checks the invariants
  takedownsim fault SCENARIO [flags] a load run with faults: kill (SIGKILL the daemon
                                     -kills times and start it again), smtp (the relay
                                     answers 4xx to -smtp-4xx of its commands and is gone
                                     for -smtp-down), rdap (every registry answers 429 with
                                     Retry-After, then RIPE and Verisign are gone), node
                                     (a NATS node and a replica lost, on a cluster you run:
                                     -nats, -node-down, -node-up)
  takedownsim cadence [flags]        simulate re-checks in virtual time: removal →
                                     confirmed and the probe rate of the default
                                     policy and SCART's side by side (-h for flags)
  takedownsim help                   this text

load and fault exit 0 when every invariant held, 1 when one broke (or the
run failed), 2 on bad flags. The invariants: no acknowledged report lost,
none in two cases, no URL with two open cases, no case stuck (in received,
enriched or routed, or noticed after the hoster removed, for -stuck-after),
no second first notice to the same contact, no removal confirmed while the
material was online, no RDAP request faster than the server's published limit
or before its Retry-After (the simulated servers time every request).

Flags of world:
`)
	fs, _ := worldFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nFlags of load and fault (besides world's -hosts … -seed, -fixtures, -cadence, -batch-window and\n-confirm-spacing, which size the world and the schedule the same way; load makes 200 hosts by default):\n")
	shared := map[string]bool{}
	var pf planFlags
	var sf scheduleFlags
	probe := flag.NewFlagSet("", flag.ContinueOnError)
	pf.register(probe, 0)
	sf.register(probe)
	probe.VisitAll(func(f *flag.Flag) { shared[f.Name] = true })
	lfs, _ := loadFlags("load", 2000, 0)
	lfs.VisitAll(func(f *flag.Flag) {
		if !shared[f.Name] {
			fmt.Fprintf(w, "  -%s\n    \t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
		}
	})
	fmt.Fprint(w, `
Flags of fault, besides those of load:
  -kills 5                kill: SIGKILLs of the daemon (started again each time)
  -smtp-4xx 0.3           smtp: share of MAIL, RCPT and DATA answered 4xx
  -smtp-down 1m           smtp: how long the relay is gone, from halfway through
  -smtp-4xx-after 1m      smtp: how long the 4xx go on after it is back
  -rdap-retry-after 20s   rdap: the Retry-After of the 429s
  -rdap-limited 1m        rdap: how long every server answers 429
  -rdap-down 1m           rdap: how long RIPE's and Verisign's servers are gone
  -node-down CMD          node: stops one NATS node
  -node-up CMD            node: starts it again
  -node-back 1m           node: how long the node and the last replica stay down

Behaviours (-mix, and the demo sites):
  remove        removed -remove-after after the first notice or forward naming the URL
  never         stays online: reminders, then escalation
  flap          gone and back in spells of half the quickest -remove-after, then removed
  move          moves to Germany (DNS to a German network) half the quickest -remove-after
                after the notice; removed -remove-after after the forward to the German partner
  cdn           behind Cloudflare (CNAME into its network): the CDN is noticed
  unresolvable  no DNS record: the case stays unresolvable

Generated hosts are h<i>.sim<d>.com, URLs http://h<i>.sim<d>.com/c/<n>.jpg.
`)
}
