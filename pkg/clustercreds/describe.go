package clustercreds

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/takedownd/takedownd/pkg/broker"
)

// placement says, for each file Generate writes, who reads it and how.
// The order is the order of the list Describe prints.
var placement = []struct{ file, where string }{
	{EnvFile, "every NATS node: EnvironmentFile= (systemd) or env_file: (compose); holds the route password"},
	{seedName(broker.RoleDaemon), "every replica: nats.nkey_file; operators: nats --nkey … --inbox-prefix " + broker.InboxPrefix},
	{APITokenFile, "every replica: api.tokens (token: {file: …}); takedownctl -token-file"},
	{VERPSecretFile, "every replica: notify.verp.secret_file"},
	{seedName(broker.RoleAnalyst), "the analyst tool's host (publishes reports)"},
	{seedName(broker.RoleCtl), "takedownctl -nats-nkey (submit, dlq resubmit)"},
	{seedName(RoleSystem), "operators: nats --nkey … server report jetstream (system account)"},
	{RoutePasswordFile, "nowhere: nats.env carries it; kept so that a new run writes the same"},
}

func seedName(r broker.Role) string { return broker.SeedFile("", r) }

// Files are the names of every file Generate writes, in Describe's order.
func Files() []string {
	out := make([]string, len(placement))
	for i, p := range placement {
		out[i] = p.file
	}
	return out
}

// Describe prints where each file goes, with the public keys (never a
// secret) and which files this run created.
func (r Result) Describe(w io.Writer) {
	fmt.Fprintf(w, "credentials in %s (every file mode 0600)\n\n", r.Dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range placement {
		state := "kept"
		switch {
		case p.file == EnvFile:
			state = "written"
		case slices.Contains(r.Created, p.file):
			state = "created"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.file, state, p.where)
		if pub := r.PublicKeys[p.file]; pub != "" {
			fmt.Fprintf(tw, "  \t\tpublic key %s\n", pub)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nCopy only what each host needs. To issue a new key for one role, delete its\n"+
		"seed and run this again, then restart the NATS nodes one at a time (they read\n"+
		"%s at start) and give the new seed to its user.\n", EnvFile)
}
