package deploy

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/app"
)

// nonroot is the distroless image's nonroot user and group.
const nonroot = "65532:65532"

// instruction is one line of the Containerfile, continuations joined.
type instruction struct {
	op    string   // COPY, RUN, …
	flags []string // --from=…, --chown=…
	args  []string
	raw   string
}

// stage is one FROM and what follows it.
type stage struct {
	name, base string
	ins        []instruction
}

func parseContainerfile(t *testing.T, file string) []stage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(l)
		line := cur.String()
		cur.Reset()
		fields := strings.Fields(line)
		in := instruction{op: strings.ToUpper(fields[0]), raw: line}
		rest := strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "--") {
				break
			}
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(strings.TrimPrefix(rest, f))
		}
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &in.args); err != nil {
				t.Fatalf("%s: %s: %v", file, line, err)
			}
		} else {
			in.args = strings.Fields(rest)
		}
		if in.op == "FROM" {
			s := stage{base: in.args[0]}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "AS") {
				s.name = in.args[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", file, in.op)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages
}

func (s stage) all(op string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.op == op {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(t *testing.T, op string) instruction {
	t.Helper()
	all := s.all(op)
	if len(all) == 0 {
		t.Fatalf("stage %s has no %s", s.name, op)
	}
	return all[len(all)-1]
}

func (in instruction) flag(name string) string {
	for _, f := range in.flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func findStage(t *testing.T, stages []stage, name string) stage {
	t.Helper()
	for _, s := range stages {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("Containerfile has no stage %q", name)
	return stage{}
}

// copiedTo says where a stage's COPY puts the repository file src, "" if
// it does not copy it.
func (s stage) copiedTo(src string) string {
	for _, in := range s.all("COPY") {
		if in.flag("from") != "" {
			continue
		}
		srcs, dst := in.args[:len(in.args)-1], in.args[len(in.args)-1]
		if slices.Contains(srcs, src) {
			if strings.HasSuffix(dst, "/") {
				return dst + path.Base(src)
			}
			return dst
		}
	}
	return ""
}

// TestContainerfile holds the image to what the issue asks of it: the
// daemon runs as nonroot and owns its volume, the config baked in passes
// the daemon's own check in the image's file system (with the certificate
// the operator mounts), its data dir is the volume, its listeners take
// every address with TLS, and the build copies only files that exist and
// that the ignore file lets into the context.
func TestContainerfile(t *testing.T) {
	t.Parallel()
	stages := parseContainerfile(t, "Containerfile")
	if last := stages[len(stages)-1].name; last != "takedownd" {
		t.Errorf("the default (last) stage is %q, want takedownd", last)
	}
	ignore := ignorePatterns(t, "../.containerignore")
	for _, s := range stages {
		for _, in := range s.all("COPY") {
			if in.flag("from") != "" {
				continue
			}
			for _, src := range in.args[:len(in.args)-1] {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("stage %s: %s: %v", s.name, in.raw, err)
				}
				if ignored(ignore, strings.TrimSuffix(src, "/")) {
					t.Errorf("stage %s copies %s, which .containerignore keeps out of the context", s.name, src)
				}
			}
		}
	}
	for _, name := range []string{"takedownd", "nats-server"} {
		s := findStage(t, stages, name)
		if u := s.last(t, "USER"); u.args[0] != nonroot {
			t.Errorf("stage %s runs as %s, want %s", name, u.args[0], nonroot)
		}
		for _, v := range s.all("VOLUME") {
			owned := false
			for _, in := range s.all("COPY") {
				if in.args[len(in.args)-1] == v.args[0] && in.flag("chown") == nonroot {
					owned = true
				}
			}
			if !owned {
				t.Errorf("stage %s: volume %s is not created owned by %s: the nonroot daemon could not write it", name, v.args[0], nonroot)
			}
		}
	}

	d := findStage(t, stages, "takedownd")
	entry, cmd := d.last(t, "ENTRYPOINT").args, d.last(t, "CMD").args
	volume := d.last(t, "VOLUME").args[0]
	if i := slices.Index(entry, "-data"); i < 0 || entry[i+1] != volume {
		t.Errorf("ENTRYPOINT %v does not put the data dir in the volume %s", entry, volume)
	}
	if !strings.Contains(findStage(t, stages, "build").last(t, "RUN").raw, "-o /out/bin/"+path.Base(entry[0])) {
		t.Errorf("ENTRYPOINT runs %s, which the build stage does not build into /out/bin/", entry[0])
	}
	if len(cmd) != 2 || cmd[0] != "-config" || d.copiedTo("deploy/container.yaml") != cmd[1] {
		t.Fatalf("CMD %v does not run the baked config deploy/container.yaml (copied to %q)", cmd, d.copiedTo("deploy/container.yaml"))
	}

	// The image's file system: what the stage copies, and the
	// certificate deploy/container.yaml says the operator mounts.
	root := t.TempDir()
	for _, f := range []string{"config/contacts.yaml", "config/partners.yaml"} {
		dst := d.copiedTo(f)
		if dst == "" {
			t.Fatalf("the image lacks %s", f)
		}
		copyFile(t, filepath.Join("..", f), filepath.Join(root, dst))
	}
	selfSigned(t, filepath.Join(root, "etc/takedownd/tls/tls.crt"), filepath.Join(root, "etc/takedownd/tls/tls.key"))
	b, err := os.ReadFile("container.yaml")
	if err != nil {
		t.Fatal(err)
	}
	baked := filepath.Join(root, cmd[1])
	writeFile(t, baked, []byte(underRoot(string(b), root)), 0o644)
	data := filepath.Join(root, volume)
	if _, err := app.CheckConfig(baked, data); err != nil {
		t.Fatalf("takedownd -check-config in the image:\n%v", err)
	}
	cfg, err := app.LoadConfig(baked, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != data {
		t.Errorf("data_dir %s is not the volume %s", cfg.DataDir, volume)
	}
	for key, addr := range map[string]string{"nats.embedded.listen": cfg.NATS.Embedded.Listen, "api.listen": cfg.API.Listen} {
		if !strings.HasPrefix(addr, "0.0.0.0:") {
			t.Errorf("%s %s: in a container, a listener must take every address to be reached", key, addr)
		}
	}
	if !cfg.NATS.Embedded.TLS.Enabled() || cfg.API.TLSCertFile == "" || cfg.NATS.Embedded.InsecureListen {
		t.Error("the image's listeners are reached over the network: both need TLS, and insecure_listen stays off")
	}
}

// ignorePatterns reads a .containerignore. The file uses no negations
// (a "!" line would need the full matching rules).
func ignorePatterns(t *testing.T, file string) []string {
	t.Helper()
	var out []string
	for _, l := range lines(t, file) {
		if strings.HasPrefix(l, "!") {
			t.Fatalf("%s: negation %q: teach ignored() the rules first", file, l)
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/"))
	}
	return out
}

// ignored reports whether a context path (slash-separated, relative to
// the root) is left out: a pattern matches the path or one of its parent
// directories, "**/" standing for any number of directories.
func ignored(patterns []string, p string) bool {
	parts := strings.Split(p, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		for _, pat := range patterns {
			if match(pat, prefix) {
				return true
			}
		}
	}
	return false
}

func match(pat, p string) bool {
	if rest, ok := strings.CutPrefix(pat, "**/"); ok {
		parts := strings.Split(p, "/")
		for i := range parts {
			if match(rest, strings.Join(parts[i:], "/")) {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(pat, p)
	return ok
}

// TestIgnoreFiles keeps state, secrets and VCS out of the build context,
// and the sources in: podman reads .containerignore, docker .dockerignore,
// so the two are the same.
func TestIgnoreFiles(t *testing.T) {
	t.Parallel()
	c, err := os.ReadFile("../.containerignore")
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if string(c) != string(d) {
		t.Error(".containerignore and .dockerignore differ")
	}
	patterns := ignorePatterns(t, "../.containerignore")
	for _, p := range []string{
		".git/HEAD", "data/api-token", "data/nats-takedownd.nk", "data/nats/jetstream/x", "data/outbox/TD-1.eml",
		"cmd/takedownd/data/api-token", "deploy/credentials/nats.env", "deploy/credentials/api-token",
		"elsewhere/nats-analyst.nk", "ops/verp-secret", "ops/nats.env", "tls/api.key", "world/takedownd.yaml",
		"load-run/daemon-0/api-token", "wt-deploy/go.mod", "takedownd", "pkg/app/app.test",
	} {
		if !ignored(patterns, p) {
			t.Errorf("%s would be in the build context", p)
		}
	}
	for _, p := range []string{
		"go.mod", "go.sum", "cmd/takedownd/main.go", "pkg/app/app.go", "pkg/simnet/world/world.go",
		"pkg/notice/templates/x.tmpl", "config/contacts.yaml", "deploy/container.yaml", "deploy/nats/takedown.conf",
	} {
		if ignored(patterns, p) {
			t.Errorf("%s is kept out of the build context, which needs it", p)
		}
	}
}
