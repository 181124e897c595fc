package app

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "api:\n  tokens:\n    - {name: ops, role: admin, token: 0123456789abcdef0123456789abcdef}\nnotify:\n  smtp: {host: smtp.example.net}\n")
	bad := write("bad.yaml", "api: {listen: \":99999\"}\nnotify:\n  smtp: {host: smtp.example.net, tls: none}\n")
	tests := []struct {
		name, path, dataDir string
		want                []string // in the summary, or in the error when wantErr
		wantErr             bool
	}{
		{"built-in defaults", "", "", []string{"ok: built-in defaults:", "api on 127.0.0.1:8080", "notices to the outbox"}, false},
		{"a valid file", good, "", []string{"ok: " + good + ":", "(1 tokens)", "notices via smtp.example.net:587 (tls starttls)"}, false},
		{"-data overrides data_dir", "", "/var/lib/td", []string{"data in /var/lib/td", "token file /var/lib/td/api-token"}, false},
		{"every problem with its key", bad, "", []string{"api.listen:", "notify.smtp.tls:"}, true},
		{"a missing file", filepath.Join(dir, "none.yaml"), "", []string{"read config"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := CheckConfig(tt.path, tt.dataDir)
			got := out
			if tt.wantErr {
				if err == nil {
					t.Fatalf("CheckConfig = %q, want an error", out)
				}
				got = err.Error()
			} else if err != nil {
				t.Fatalf("CheckConfig: %v", err)
			}
			if !tt.wantErr && strings.Contains(got, "\n") {
				t.Errorf("summary is more than one line: %q", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not contain %q", got, w)
				}
			}
			if strings.Contains(got, "0123456789abcdef") {
				t.Errorf("the output shows a token: %q", got)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"devel without vcs", debug.BuildInfo{GoVersion: "go1.26.11", Main: debug.Module{Version: "(devel)"}}, "takedownd devel go1.26.11"},
		{"module version", debug.BuildInfo{GoVersion: "go1.26.11", Main: debug.Module{Version: "v1.4.2"}}, "takedownd v1.4.2 go1.26.11"},
		{"vcs revision, modified", debug.BuildInfo{GoVersion: "go1.26.11", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "54478fc"}, {Key: "vcs.time", Value: "2026-12-01T21:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "takedownd devel (git 54478fc, 2026-12-01T21:00:00Z, modified) go1.26.11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := version(&tt.bi); got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
		})
	}
}
