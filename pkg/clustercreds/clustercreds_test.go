package clustercreds

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/takedownd/takedownd/pkg/broker"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func generate(t *testing.T, dir string, routes ...string) Result {
	t.Helper()
	res, err := Generate(dir, Options{Routes: routes, Log: discard()})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return res
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGenerateWritesEveryFileOwnerOnly(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "creds")
	res := generate(t, dir)
	for _, f := range Files() {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if len(res.Created) != len(Files())-1 { // nats.env is written, not created
		t.Errorf("created %v, want every file but %s", res.Created, EnvFile)
	}
	for _, r := range []broker.Role{broker.RoleDaemon, broker.RoleAnalyst, broker.RoleCtl, RoleSystem} {
		path := broker.SeedFile(dir, r)
		kp, err := nkeys.ParseDecoratedNKey([]byte(read(t, path)))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pub, _ := kp.PublicKey()
		if !nkeys.IsValidPublicUserKey(pub) || res.PublicKeys[filepath.Base(path)] != pub {
			t.Errorf("%s: public key %s, result says %s", path, pub, res.PublicKeys[filepath.Base(path)])
		}
		if !strings.Contains(read(t, filepath.Join(dir, EnvFile)), "="+pub+"\n") {
			t.Errorf("nats.env lacks %s's public key", r)
		}
	}
	for _, f := range []string{APITokenFile, VERPSecretFile, RoutePasswordFile} {
		if v := strings.TrimSpace(read(t, filepath.Join(dir, f))); len(v) < 32 {
			t.Errorf("%s holds %d characters, want at least 32", f, len(v))
		}
	}
	pw := strings.TrimSpace(read(t, filepath.Join(dir, RoutePasswordFile)))
	want := "NATS_ROUTES=[nats-route://route:" + pw + "@nats-1:6222,nats-route://route:" + pw + "@nats-2:6222,nats-route://route:" + pw + "@nats-3:6222]\n"
	if env := read(t, filepath.Join(dir, EnvFile)); !strings.Contains(env, want) || !strings.Contains(env, "NATS_ROUTE_PASSWORD="+pw+"\n") {
		t.Errorf("nats.env:\n%s\nwant the route password and %s", env, want)
	}
	if pw[0] < 'a' || pw[0] > 'z' {
		t.Errorf("route password %q… starts with %q: the NATS parser could take it for a number", pw[:4], pw[0])
	}
}

// TestGenerateKeepsWhatExists runs the generator again, as an operator
// does after deleting one seed to issue a new key, or to move the routes:
// every other file stays as it was, nats.env follows.
func TestGenerateKeepsWhatExists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := generate(t, dir)
	before := map[string]string{}
	for _, f := range Files() {
		before[f] = read(t, filepath.Join(dir, f))
	}
	ctl := broker.SeedFile(dir, broker.RoleCtl)
	if err := os.Remove(ctl); err != nil {
		t.Fatal(err)
	}
	second := generate(t, dir, "10.0.0.1:6222", "10.0.0.2:6222", "10.0.0.3:6222")
	if len(second.Created) != 1 || second.Created[0] != filepath.Base(ctl) {
		t.Errorf("second run created %v, want only %s", second.Created, filepath.Base(ctl))
	}
	for _, f := range Files() {
		now := read(t, filepath.Join(dir, f))
		switch f {
		case filepath.Base(ctl), EnvFile:
			if now == before[f] {
				t.Errorf("%s did not change", f)
			}
		default:
			if now != before[f] {
				t.Errorf("%s changed on the second run", f)
			}
		}
	}
	if first.PublicKeys[filepath.Base(ctl)] == second.PublicKeys[filepath.Base(ctl)] {
		t.Error("the new takedownctl key is the old one")
	}
	env := read(t, filepath.Join(dir, EnvFile))
	if !strings.Contains(env, "@10.0.0.2:6222") || strings.Contains(env, "nats-2") {
		t.Errorf("nats.env does not follow the new routes:\n%s", env)
	}
}

func TestGenerateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(dir string) error
		routes  []string
		want    string
	}{
		{"a route without a port", nil, []string{"nats-1"}, `route "nats-1"`},
		{"a short secret", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, APITokenFile), []byte("short\n"), 0o600)
		}, nil, "fewer than 32 characters"},
		{"a seed that is not one", func(dir string) error {
			return os.WriteFile(broker.SeedFile(dir, broker.RoleAnalyst), []byte("not a seed\n"), 0o600)
		}, nil, "analyst nkey seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.prepare != nil {
				if err := tt.prepare(dir); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Generate(dir, Options{Routes: tt.routes, Log: discard()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// TestDescribeNamesEveryFileAndNoSecret: the list an operator copies
// files by names each file and the public keys, and never a secret.
func TestDescribeNamesEveryFileAndNoSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := generate(t, dir)
	var out bytes.Buffer
	res.Describe(&out)
	for _, f := range Files() {
		if !strings.Contains(out.String(), f) {
			t.Errorf("the list does not name %s", f)
		}
	}
	for _, pub := range res.PublicKeys {
		if !strings.Contains(out.String(), pub) {
			t.Errorf("the list does not show public key %s", pub)
		}
	}
	for _, f := range []string{APITokenFile, VERPSecretFile, RoutePasswordFile, filepath.Base(broker.SeedFile("", broker.RoleDaemon))} {
		secret := strings.TrimSpace(read(t, filepath.Join(dir, f)))
		if strings.Contains(out.String(), secret) || strings.Contains(out.String(), secret[:12]) {
			t.Errorf("the list shows the secret in %s", f)
		}
	}
}
