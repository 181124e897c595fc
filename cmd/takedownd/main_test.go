package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildDaemon builds this command into a temporary directory, to be run as
// an operator runs it.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "takedownd")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestFlagsExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildDaemon(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	for p, content := range map[string]string{
		good: "data_dir: " + filepath.Join(dir, "data") + "\n",
		bad:  "api: {listen: \":99999\"}\nnats: {token: {env: TAKEDOWND_TEST_UNSET_TOKEN}}\n",
	} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"check a valid file", []string{"-check-config", "-config", good}, 0, []string{"ok: " + good}, nil},
		{"check the defaults", []string{"-check-config"}, 0, []string{"ok: built-in defaults"}, nil},
		{"check a bad file", []string{"-check-config", "-config", bad}, 1, nil, []string{"2 configuration problem(s)", "api.listen:", "nats.token:"}},
		{"check a missing file", []string{"-check-config", "-config", filepath.Join(dir, "none.yaml")}, 1, nil, []string{"read config"}},
		{"version", []string{"-version"}, 0, []string{"takedownd ", runtime.Version()}, nil},
		{"generate credentials", []string{"-gen-credentials", filepath.Join(dir, "creds")}, 0, []string{"credentials in " + filepath.Join(dir, "creds"), "nats.env", "nats-takedownd.nk"}, nil},
		{"generate credentials with a bad route", []string{"-gen-credentials", filepath.Join(dir, "creds2"), "-nats-routes", "nats-1"}, 1, nil, []string{`route "nats-1"`}},
		{"a stray argument", []string{"-check-config", "extra"}, 2, nil, []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), bin, tt.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TAKEDOWND_TEST_UNSET_TOKEN=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, &stdout, &stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q does not contain %q", &stdout, w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not contain %q", &stderr, w)
				}
			}
			if tt.wantCode == 0 && tt.args[0] != "-gen-credentials" && strings.Count(strings.TrimSpace(stdout.String()), "\n") > 0 {
				t.Errorf("want one line, got %q", &stdout)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Error("-check-config created the data directory: it must start nothing")
			}
		})
	}
}
