package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestValidateReportsEveryProblemWithItsKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := `
log: {level: loud}
nats: {replicas: 2}
intake: {subject: "takedown.*", workers: 0}
api:
  listen: "nohost"
  tokens:
    - {name: a, role: boss}
notify: {from: "not an address"}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load accepted a bad config")
	}
	for _, key := range []string{"log.level", "nats.replicas", "intake.subject", "intake.workers", "api.listen", "api.tokens[0].role", "api.tokens[0].token", "notify.from"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte("intake:\n  subjcet: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "subjcet") {
		t.Errorf("Load error = %v, want it to name the unknown key", err)
	}
}

func TestSecretRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	cfg := Default()
	err := Decode([]byte("nats:\n  password: {fiel: /run/secrets/nats}\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), `"fiel"`) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Decode = %v, want the misspelt secret key named with its line", err)
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TAKEDOWND_TEST_SECRET", "from-env")
	cfg := Default()
	data := "nats:\n  password: s3cret\n  token: {env: TAKEDOWND_TEST_SECRET}\nnotify:\n  smtp:\n    password: {file: " + file + "}\n"
	if err := Decode([]byte(data), &cfg); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s    Secret
		want string
	}{
		"inline": {cfg.NATS.Password, "s3cret"},
		"env":    {cfg.NATS.Token, "from-env"},
		"file":   {cfg.Notify.SMTP.Password, "from-file"},
	} {
		got, err := tc.s.Resolve()
		if err != nil || got != tc.want {
			t.Errorf("%s: Resolve() = %q, %v; want %q", name, got, err, tc.want)
		}
		if strings.Contains(tc.s.String(), tc.want) && name != "file" {
			t.Errorf("%s: String() leaks the secret: %s", name, tc.s)
		}
	}
	if _, err := (Secret{Env: "TAKEDOWND_TEST_UNSET"}).Resolve(); err == nil {
		t.Error("an unset environment variable resolved")
	}
}

func TestSweepIntervalInsideDuplicateWindow(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Recheck.SweepInterval = 3 * time.Hour
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "recheck.sweep_interval: must be under 2h") {
		t.Errorf("Validate() = %v, want the sweep interval refused", err)
	}
}
