package deploy

import (
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/clustercreds"
	"github.com/takedownd/takedownd/pkg/config"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestNATSNodesParse reads the three node files as nats-server does, with
// nats.env from the generator in the environment: each is a JetStream
// node of one cluster with a name of its own, routed to all three with
// the route password, and nothing else differs between them.
func TestNATSNodesParse(t *testing.T) {
	res := credentials(t, t.TempDir(), nil)
	nodeEnv(t, res)
	pw := envValue(t, res, clustercreds.EnvRoutePassword)
	seen := map[string]bool{}
	for _, n := range nodes {
		opts := nodeOptions(t, n.file)
		if opts.ServerName != n.name {
			t.Errorf("%s: server_name %q, want %q", n.file, opts.ServerName, n.name)
		}
		if seen[opts.ServerName] {
			t.Errorf("%s: server_name %q is used twice", n.file, opts.ServerName)
		}
		seen[opts.ServerName] = true
		if !opts.JetStream || opts.StoreDir == "" {
			t.Errorf("%s: JetStream %v with store dir %q, want it on with a store dir", n.file, opts.JetStream, opts.StoreDir)
		}
		if opts.Cluster.Name != "takedown" || opts.Cluster.Port != 6222 {
			t.Errorf("%s: cluster %q on port %d, want takedown on 6222", n.file, opts.Cluster.Name, opts.Cluster.Port)
		}
		if opts.Cluster.Username != clustercreds.RouteUser || opts.Cluster.Password != pw {
			t.Errorf("%s: routes are not authenticated with the generated route user and password", n.file)
		}
		if len(opts.Routes) != len(nodes) {
			t.Fatalf("%s: %d routes, want one to each of the %d nodes", n.file, len(opts.Routes), len(nodes))
		}
		for i, r := range opts.Routes {
			p, _ := r.User.Password()
			if r.User.Username() != clustercreds.RouteUser || p != pw || r.Host != clustercreds.DefaultRoutes[i] {
				t.Errorf("%s: route %d goes to %s as %q, want %s as %q with the route password",
					n.file, i, r.Host, r.User.Username(), clustercreds.DefaultRoutes[i], clustercreds.RouteUser)
			}
		}
		if opts.Port != 4222 || opts.HTTPHost != "127.0.0.1" {
			t.Errorf("%s: clients on %d, monitoring on %s: want 4222, and monitoring on loopback only", n.file, opts.Port, opts.HTTPHost)
		}
		if opts.SystemAccount != "SYS" {
			t.Errorf("%s: system account %q, want SYS", n.file, opts.SystemAccount)
		}
	}
}

// TestNATSRolesMatchTheEmbeddedServer holds the cluster's users to the
// embedded server's: one nkey user per role, in the account JetStream
// runs in, with exactly broker.Permissions of its role, and the system
// account's user alone in SYS. A change to a role's permissions in
// pkg/broker fails here until deploy/nats/takedown.conf follows it.
func TestNATSRolesMatchTheEmbeddedServer(t *testing.T) {
	res := credentials(t, t.TempDir(), nil)
	nodeEnv(t, res)
	reports := config.Default().Intake.Subject
	want := map[string]broker.Role{}
	for _, r := range []broker.Role{broker.RoleDaemon, broker.RoleAnalyst, broker.RoleCtl, clustercreds.RoleSystem} {
		want[res.PublicKeys[filepath.Base(broker.SeedFile("", r))]] = r
	}
	for _, n := range nodes {
		opts := nodeOptions(t, n.file)
		got := map[broker.Role]bool{}
		for _, u := range opts.Nkeys {
			r, ok := want[u.Nkey]
			if !ok {
				t.Errorf("%s: user %s is none of the generated keys", n.file, u.Nkey)
				continue
			}
			got[r] = true
			if r == clustercreds.RoleSystem {
				if u.Account == nil || u.Account.Name != opts.SystemAccount {
					t.Errorf("%s: the system key is not in the system account", n.file)
				}
				continue
			}
			if u.Account == nil || u.Account.Name != "TAKEDOWN" {
				t.Errorf("%s: %s is not in the TAKEDOWN account", n.file, r)
			}
			if p := broker.Permissions(r, reports); !reflect.DeepEqual(u.Permissions, p) {
				t.Errorf("%s: %s may publish %+v, subscribe %+v; the embedded server allows publish %+v, subscribe %+v",
					n.file, r, u.Permissions.Publish, u.Permissions.Subscribe, p.Publish, p.Subscribe)
			}
		}
		if len(got) != len(want) || len(opts.Nkeys) != len(want) {
			t.Errorf("%s: users for %v (%d users), want one for each of the %d keys", n.file, got, len(opts.Nkeys), len(want))
		}
		if len(opts.Users) != 0 {
			t.Errorf("%s: %d password users; every client proves itself with an nkey", n.file, len(opts.Users))
		}
	}
}

func envValue(t *testing.T, res clustercreds.Result, name string) string {
	t.Helper()
	for _, v := range res.Env {
		if v.Name == name {
			return v.Value
		}
	}
	t.Fatalf("nats.env has no %s", name)
	return ""
}
