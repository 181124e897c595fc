package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/app"
)

// unitSettings are a unit file's key=value lines; a key written more than
// once keeps its values joined by a space (as systemd adds them up for
// the keys this test reads).
func unitSettings(t *testing.T, file string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range lines(t, file) {
		if strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", file, l)
		}
		if prev, seen := out[k]; seen {
			v = prev + " " + v
		}
		out[k] = v
	}
	return out
}

// flagValue is the value after flag in a command line, "" if absent.
func flagValue(cmd []string, flag string) string {
	if i := slices.Index(cmd, flag); i >= 0 && i+1 < len(cmd) {
		return cmd[i+1]
	}
	return ""
}

// TestTakedowndUnit holds the unit to the replica config and the daemon:
// it checks the config before it starts, runs as its own user with the
// data dir the config names as its only writable path, and gives the
// stop more time than shutdown_timeout.
func TestTakedowndUnit(t *testing.T) {
	t.Parallel()
	u := unitSettings(t, "takedownd.service")
	start, pre := strings.Fields(u["ExecStart"]), strings.Fields(u["ExecStartPre"])
	if !slices.Contains(pre, "-check-config") || pre[0] != start[0] {
		t.Errorf("ExecStartPre %q does not run %s -check-config", u["ExecStartPre"], start[0])
	}
	for _, f := range []string{"-config", "-data"} {
		if flagValue(pre, f) != flagValue(start, f) || flagValue(start, f) == "" {
			t.Errorf("ExecStartPre checks %s %q, ExecStart runs %s %q", f, flagValue(pre, f), f, flagValue(start, f))
		}
	}
	data := flagValue(start, "-data")
	if u["StateDirectory"] == "" || "/var/lib/"+u["StateDirectory"] != data || u["StateDirectoryMode"] != "0750" {
		t.Errorf("StateDirectory=%s (mode %s) is not the data dir %s, mode 0750", u["StateDirectory"], u["StateDirectoryMode"], data)
	}
	if u["ReadWritePaths"] != data {
		t.Errorf("ReadWritePaths=%s, want the data dir %s alone", u["ReadWritePaths"], data)
	}
	for k, want := range map[string]string{
		"User": "takedownd", "Group": "takedownd", "NoNewPrivileges": "true", "ProtectSystem": "strict",
		"ProtectHome": "true", "PrivateTmp": "true", "KillSignal": "SIGTERM", "Restart": "on-failure",
	} {
		if u[k] != want {
			t.Errorf("%s=%s, want %s", k, u[k], want)
		}
	}
	stop, err := time.ParseDuration(u["TimeoutStopSec"] + "s")
	if err != nil {
		t.Fatalf("TimeoutStopSec %q: %v", u["TimeoutStopSec"], err)
	}
	h := layoutReplicaHost(t, nil)
	cfg, err := app.LoadConfig(h.config, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(h.root, data) {
		t.Errorf("the unit's data dir %s is not the replica config's data_dir", data)
	}
	if cfg.ShutdownTimeout >= stop {
		t.Errorf("shutdown_timeout %s is not below TimeoutStopSec=%s", cfg.ShutdownTimeout, stop)
	}
	if !strings.Contains(u["ExecStart"], "/etc/takedownd/takedownd.yaml") {
		t.Errorf("ExecStart %q does not run /etc/takedownd/takedownd.yaml, where the install steps put the replica config", u["ExecStart"])
	}
}

// TestNATSUnit holds the node template to deploy/nats/: the instance
// picks one of the node files, nats.env is the environment, the state
// directory is the store, and the stop waits out lame duck mode.
func TestNATSUnit(t *testing.T) {
	res := credentials(t, t.TempDir(), nil)
	nodeEnv(t, res)
	u := unitSettings(t, "nats-server@.service")
	if u["EnvironmentFile"] != "/etc/nats/nats.env" {
		t.Errorf("EnvironmentFile=%s, want /etc/nats/nats.env", u["EnvironmentFile"])
	}
	conf := flagValue(strings.Fields(u["ExecStart"]), "-c")
	for _, n := range nodes {
		inst := strings.TrimPrefix(n.name, "nats-")
		if want := "/etc/nats/" + filepath.Base(n.file); strings.ReplaceAll(conf, "%i", inst) != want {
			t.Errorf("instance %s runs %s, want %s", inst, strings.ReplaceAll(conf, "%i", inst), want)
		}
		opts := nodeOptions(t, n.file)
		if "/var/lib/"+u["StateDirectory"] != opts.StoreDir || u["ReadWritePaths"] != opts.StoreDir {
			t.Errorf("StateDirectory=%s, ReadWritePaths=%s; the store is %s", u["StateDirectory"], u["ReadWritePaths"], opts.StoreDir)
		}
		stop, err := time.ParseDuration(u["TimeoutStopSec"] + "s")
		if err != nil {
			t.Fatal(err)
		}
		if u["KillSignal"] != "SIGUSR2" || stop <= opts.LameDuckDuration+opts.LameDuckGracePeriod {
			t.Errorf("KillSignal=%s TimeoutStopSec=%s: want lame duck mode (SIGUSR2) with time for its %s + %s",
				u["KillSignal"], stop, opts.LameDuckGracePeriod, opts.LameDuckDuration)
		}
	}
}

// TestUnitsVerify runs systemd-analyze verify, where the machine has it,
// on each unit with its binary replaced by one that exists (that is all
// it would otherwise complain about): any other word from it, an unknown
// key or a bad value, fails.
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze on this machine")
	}
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to stand in for the binaries")
	}
	for _, unit := range []string{"takedownd.service", "nats-server@.service"} {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("/usr/local/bin/takedownd", stand, "/usr/local/bin/nats-server", stand).Replace(string(b))
		name := unit
		if strings.HasSuffix(unit, "@.service") {
			name = strings.Replace(unit, "@.", "@1.", 1)
		}
		file := filepath.Join(t.TempDir(), name)
		writeFile(t, file, []byte(text), 0o644)
		out, err := exec.CommandContext(t.Context(), tool, "verify", file).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}
}
