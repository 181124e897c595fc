package broker

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/takedownd/takedownd/pkg/config"
)

// openErr opens a broker that must fail, and returns the error.
func openErr(t *testing.T, cfg config.NATS, dir string) error {
	t.Helper()
	b, err := Open(t.Context(), Options{Config: cfg, DataDir: dir, Name: "test", ReportSubject: reports, Log: discard()})
	if err == nil {
		_ = b.Close()
		t.Fatal("Open succeeded")
	}
	return err
}

// Each start-up failure names its cause in the error, straight away: none
// waits for a readiness that cannot come.
func TestStartupErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	storeIsFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(storeIsFile, "nats"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The store dir itself is fine, but JetStream's own dir in it is not:
	// only the server finds that, and reports it through its log.
	jetStreamIsFile := t.TempDir()
	if err := os.MkdirAll(filepath.Join(jetStreamIsFile, "nats"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jetStreamIsFile, "nats", "jetstream"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(n *config.NATS)
		dir    string
		want   []string
	}{
		{"port in use", func(n *config.NATS) { n.Embedded.Listen = ln.Addr().String() }, t.TempDir(),
			[]string{"nats.embedded.listen " + ln.Addr().String(), "address already in use"}},
		{"data dir under a file", nil, filepath.Join(file, "data"), []string{"takedownd nkey seed", "a-file/data/nats-takedownd.nk: not a directory"}},
		{"store dir is a file", nil, storeIsFile, []string{"create nats store dir", "not a directory"}},
		{"jetstream dir is a file", nil, jetStreamIsFile, []string{"start embedded nats-server", "JetStream"}},
		{"listen beyond loopback without tls", func(n *config.NATS) { n.Embedded.Listen = "0.0.0.0:0" }, t.TempDir(),
			[]string{"nats.embedded.listen", "nats.embedded.insecure_listen: true"}},
	}
	for _, tc := range tests {
		cfg := embeddedConfig()
		if tc.change != nil {
			tc.change(&cfg)
		}
		err := openErr(t, cfg, tc.dir)
		t.Logf("%s: %v", tc.name, err)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestUnwritableStoreDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "nats")
	if err := os.Mkdir(store, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(store, 0o700) })
	if f, err := os.CreateTemp(store, "probe"); err == nil {
		f.Close()
		t.Skip("this user writes into a mode 0500 directory (root): the case is covered by a store dir under a file in TestStartupErrorsNameTheCause")
	}
	err := openErr(t, embeddedConfig(), dir)
	if !strings.Contains(err.Error(), "nats store dir "+store+" is not writable") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("err = %v, want the store dir named as not writable", err)
	}
}

// A remote NATS that refuses our password says so, naming the config key
// and never the password.
func TestRefusedCredentialsOnRemote(t *testing.T) {
	t.Parallel()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Users: []*server.User{{Username: "takedownd", Password: "the-right-one"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	cfg := config.Default().NATS
	cfg.URLs = []string{srv.ClientURL()}
	cfg.User, cfg.Password = "takedownd", config.Secret{Value: "a-wrong-one"}
	err = openErr(t, cfg, t.TempDir())
	for _, w := range []string{"connect nats " + srv.ClientURL(), "the server refused our credentials", `nats.user "takedownd" with nats.password`, "uthorization"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "a-wrong-one") {
		t.Errorf("the error shows the password: %v", err)
	}

	cfg.User, cfg.Password = "", config.Secret{}
	if err := openErr(t, cfg, t.TempDir()); !strings.Contains(err.Error(), "none configured") {
		t.Errorf("no credentials: err %q does not say none were configured", err)
	}
}
