// Package clustercreds writes the credentials a takedownd deployment on a
// NATS cluster needs, in one directory, so that an operator generates them
// once and copies each file where the file list says: an nkey seed per
// role (the same roles and file names the embedded server uses), the
// system account's key, the API token and the VERP secret every replica
// shares, the route password of the NATS nodes, and nats.env, which hands
// the public keys and the route settings to every node's configuration
// (deploy/nats/takedown.conf reads them as $VARIABLES).
//
// A file that exists is kept, never overwritten: a key already handed out
// must not change under its user. nats.env alone is written again on
// every run, from the files as they are, so deleting one seed and running
// again issues a new key for that role.
package clustercreds

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/takedownd/takedownd/pkg/broker"
)

// The files Generate writes into its directory, besides the role seeds
// (broker.SeedFile).
const (
	// EnvFile is what every NATS node reads as its environment.
	EnvFile = "nats.env"
	// APITokenFile is the admin API token of every replica and takedownctl.
	APITokenFile = "api-token"
	// VERPSecretFile is the VERP tag secret every replica must share
	// (notify.verp.secret_file), or one replica's bounces fail another's
	// check.
	VERPSecretFile = "verp-secret"
	// RoutePasswordFile is the password the NATS nodes prove themselves to
	// each other with; nats.env carries it to the nodes.
	RoutePasswordFile = "nats-route-password"
)

// RouteUser is the user name of the nodes' routes (deploy/nats/takedown.conf).
const RouteUser = "route"

// DefaultRoutes are the route addresses of the three nodes of
// deploy/nats/ and deploy/compose.yaml.
var DefaultRoutes = []string{"nats-1:6222", "nats-2:6222", "nats-3:6222"}

// The variables of nats.env that deploy/nats/takedown.conf reads.
const (
	EnvDaemonKey     = "TAKEDOWND_NKEY"
	EnvAnalystKey    = "ANALYST_NKEY"
	EnvCtlKey        = "TAKEDOWNCTL_NKEY"
	EnvSystemKey     = "SYSTEM_NKEY"
	EnvRoutePassword = "NATS_ROUTE_PASSWORD"
	EnvRoutes        = "NATS_ROUTES"
)

// RoleSystem is the system account's user, for operators' server-wide
// questions (nats server report jetstream); it sees no takedownd data.
// Its seed is broker.SeedFile(dir, RoleSystem), nats-system.nk.
const RoleSystem broker.Role = "system"

// seeds pairs each key's owner with its variable in nats.env.
var seeds = []struct {
	role broker.Role
	env  string
}{
	{broker.RoleDaemon, EnvDaemonKey},
	{broker.RoleAnalyst, EnvAnalystKey},
	{broker.RoleCtl, EnvCtlKey},
	{RoleSystem, EnvSystemKey},
}

// Options are what Generate writes besides the keys and secrets.
type Options struct {
	// Routes are the host:port route addresses of every node, written
	// into NATS_ROUTES with the route user and password (nats-server takes
	// a route's credentials from its URL only). Empty: DefaultRoutes.
	Routes []string
	// Log receives a line per file created (never a secret).
	Log *slog.Logger
}

// Result is what Generate found or created.
type Result struct {
	Dir string
	// PublicKeys are the public nkeys by seed file name.
	PublicKeys map[string]string
	// Env is nats.env's variables, in the order written.
	Env []EnvVar
	// Created are the files this run wrote for the first time.
	Created []string
}

// EnvVar is one line of nats.env.
type EnvVar struct{ Name, Value string }

// Generate creates dir (0700) and every missing file in it, keeps those
// that exist, and writes nats.env from them.
func Generate(dir string, o Options) (Result, error) {
	routes := o.Routes
	if len(routes) == 0 {
		routes = DefaultRoutes
	}
	for _, r := range routes {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return Result{}, fmt.Errorf("route %q: want host:port: %w", r, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("create credentials dir: %w", err)
	}
	res := Result{Dir: dir, PublicKeys: map[string]string{}}
	for _, rv := range seeds {
		path := broker.SeedFile(dir, rv.role)
		created := !exists(path)
		kp, err := broker.UserSeed(path, rv.role, o.Log)
		if err != nil {
			return Result{}, err
		}
		pub, err := kp.PublicKey()
		kp.Wipe()
		if err != nil {
			return Result{}, fmt.Errorf("read %s nkey: %w", rv.role, err)
		}
		res.note(path, created)
		res.PublicKeys[filepath.Base(path)] = pub
		res.Env = append(res.Env, EnvVar{rv.env, pub})
	}
	secrets := map[string]string{}
	for _, s := range []struct{ file, prefix string }{{APITokenFile, ""}, {VERPSecretFile, ""}, {RoutePasswordFile, "r"}} {
		path := filepath.Join(dir, s.file)
		v, created, err := secret(path, s.prefix)
		if err != nil {
			return Result{}, err
		}
		res.note(path, created)
		secrets[s.file] = v
	}
	pw := secrets[RoutePasswordFile]
	urls := make([]string, len(routes))
	for i, r := range routes {
		urls[i] = "nats-route://" + RouteUser + ":" + pw + "@" + r
	}
	res.Env = append(res.Env, EnvVar{EnvRoutePassword, pw}, EnvVar{EnvRoutes, "[" + strings.Join(urls, ",") + "]"})
	if err := writeEnv(filepath.Join(dir, EnvFile), res.Env); err != nil {
		return Result{}, err
	}
	return res, nil
}

func (r *Result) note(path string, created bool) {
	if created {
		r.Created = append(r.Created, filepath.Base(path))
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// secret reads the secret in path, or creates the file (0600) with 32
// random bytes in hex behind prefix. The route password starts with a
// letter so that the NATS config parser, which reads an environment
// value as it reads a value in a file, never takes it for a number.
func secret(path, prefix string) (string, bool, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		v := strings.TrimSpace(string(b))
		if len(v) < 32 {
			return "", false, fmt.Errorf("read %s: fewer than 32 characters", path)
		}
		return v, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate %s: %w", filepath.Base(path), err)
	}
	v := prefix + hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("create secret: %w", err)
	}
	_, werr := f.WriteString(v + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("write %s: %w", path, werr)
	}
	return v, true, nil
}

// writeEnv replaces path with the variables, through a temporary file in
// the same directory, so that a node never reads half a file.
func writeEnv(path string, vars []EnvVar) error {
	var b strings.Builder
	b.WriteString("# Written by takedownd -gen-credentials: the environment of every NATS node\n")
	b.WriteString("# (systemd EnvironmentFile=, compose env_file:). deploy/nats/takedown.conf\n")
	b.WriteString("# reads these as $VARIABLES. Secret: it holds the route password.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(b.String())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o600)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
