package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/clustercreds"
	"github.com/takedownd/takedownd/pkg/config"
)

// replicaHost lays out a replica host below a temp root as the header of
// deploy/takedownd-replica.yaml says an operator does: the generated
// credentials, the API's certificate, the relay's password, the GeoIP
// databases, the contact book and partner list copied from config/, and
// the config itself with its paths moved below the root. Only the root
// changes; a file the config names and the layout lacks fails the check.
type replicaHost struct {
	root, config string
	creds        clustercreds.Result
	apiCA        []byte
}

func layoutReplicaHost(t *testing.T, routes []string) replicaHost {
	t.Helper()
	root := t.TempDir()
	h := replicaHost{root: root, config: filepath.Join(root, "etc/takedownd/takedownd.yaml")}
	h.creds = credentials(t, filepath.Join(root, "etc/takedownd/credentials"), routes)
	h.apiCA = selfSigned(t, filepath.Join(root, "etc/takedownd/tls/api.crt"), filepath.Join(root, "etc/takedownd/tls/api.key"))
	writeFile(t, filepath.Join(root, "etc/takedownd/smtp-password"), []byte("relay-password\n"), 0o600)
	for _, db := range []string{"GeoLite2-Country.mmdb", "GeoLite2-ASN.mmdb"} {
		writeFile(t, filepath.Join(root, "var/lib/GeoIP", db), []byte("stand-in: -check-config reads, it does not parse"), 0o644)
	}
	copyFile(t, "../config/contacts.yaml", filepath.Join(root, "etc/takedownd/contacts.yaml"))
	copyFile(t, "../config/partners.yaml", filepath.Join(root, "etc/takedownd/partners.yaml"))
	b, err := os.ReadFile("takedownd-replica.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.config, []byte(underRoot(string(b), root)), 0o644)
	return h
}

// TestReplicaConfigChecks runs what takedownd -check-config runs on the
// replica config in its place, and holds it to the rest of deploy/: the
// three nodes, R3, the generated credentials (the same files on every
// replica), and a stop that ends within the unit's TimeoutStopSec.
func TestReplicaConfigChecks(t *testing.T) {
	t.Parallel()
	h := layoutReplicaHost(t, nil)
	summary, err := app.CheckConfig(h.config, "")
	if err != nil {
		t.Fatalf("takedownd -check-config %s:\n%v", "deploy/takedownd-replica.yaml", err)
	}
	if !strings.Contains(summary, "(replicas 3)") {
		t.Errorf("summary %q does not say replicas 3", summary)
	}
	cfg, err := app.LoadConfig(h.config, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.NATS.URLs) != len(nodes) {
		t.Fatalf("nats.urls %v: want the %d nodes", cfg.NATS.URLs, len(nodes))
	}
	for i, u := range cfg.NATS.URLs {
		if want := "nats://" + nodes[i].name + ":4222"; u != want {
			t.Errorf("nats.urls[%d] = %q, want %q (deploy/nats/)", i, u, want)
		}
	}
	credDir := filepath.Join(h.root, "etc/takedownd/credentials")
	for key, got := range map[string]string{
		"nats.nkey_file":             cfg.NATS.NKeyFile,
		"notify.verp.secret_file":    cfg.Notify.VERP.SecretFile,
		"api.tokens[0].token (file)": tokenFile(cfg),
	} {
		if filepath.Dir(got) != credDir || !generated(filepath.Base(got)) {
			t.Errorf("%s = %s: want a file takedownd -gen-credentials writes, in /etc/takedownd/credentials", key, got)
		}
	}
	if filepath.Base(cfg.NATS.NKeyFile) != filepath.Base(broker.SeedFile("", broker.RoleDaemon)) {
		t.Errorf("nats.nkey_file is %s, not the takedownd role's key", filepath.Base(cfg.NATS.NKeyFile))
	}
	if len(cfg.API.Tokens) == 0 {
		t.Error("no api.tokens: every replica would generate a token of its own, refused by the others")
	}
	unit := unitSettings(t, "takedownd.service")
	stop, err := time.ParseDuration(unit["TimeoutStopSec"] + "s")
	if err != nil {
		t.Fatalf("TimeoutStopSec %q: %v", unit["TimeoutStopSec"], err)
	}
	if cfg.ShutdownTimeout >= stop {
		t.Errorf("shutdown_timeout %s is not below the unit's TimeoutStopSec %s", cfg.ShutdownTimeout, stop)
	}
}

func tokenFile(cfg config.Config) string {
	if len(cfg.API.Tokens) == 0 {
		return ""
	}
	return cfg.API.Tokens[0].Token.File
}

// generated reports whether takedownd -gen-credentials writes a file of
// this name.
func generated(name string) bool {
	for _, f := range clustercreds.Files() {
		if f == name {
			return true
		}
	}
	return false
}
