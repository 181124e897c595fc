package deploy

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/clustercreds"
)

// composeFile is what this test reads of deploy/compose.yaml; a key it
// does not know fails the parse, so a typo cannot pass unseen.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]struct{}       `yaml:"volumes"`
	// Extensions are the x-… blocks the services merge in.
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	Image           string   `yaml:"image"`
	Command         []string `yaml:"command"`
	Volumes         []string `yaml:"volumes"`
	Ports           []string `yaml:"ports"`
	EnvFile         []string `yaml:"env_file"`
	DependsOn       []string `yaml:"depends_on"`
	Restart         string   `yaml:"restart"`
	StopSignal      string   `yaml:"stop_signal"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
}

// mount is one volumes: entry: a bind mount of a path beside
// compose.yaml, or a named volume.
type mount struct{ src, dst string }

func (m mount) bind() bool { return strings.HasPrefix(m.src, ".") || strings.HasPrefix(m.src, "/") }

func (s composeService) mounts(t *testing.T) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("volume %q: want src:dst[:ro]", v)
		}
		out = append(out, mount{parts[0], parts[1]})
	}
	return out
}

// credentialsDir is where compose.yaml expects takedownd -gen-credentials
// to have written (the README's first step); it is not in the repository.
const credentialsDir = "credentials"

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("compose.yaml: unknown top-level key %q", k)
		}
	}
	return c
}

// generatedOrExisting checks that a path beside compose.yaml is in the
// repository, or is (in) the credentials directory and a file the
// generator writes.
func generatedOrExisting(t *testing.T, svc, src string) {
	t.Helper()
	rel := filepath.Clean(src)
	if rel == credentialsDir {
		return
	}
	if dir, file := filepath.Split(rel); filepath.Clean(dir) == credentialsDir {
		if !generated(file) {
			t.Errorf("%s: %s is not a file takedownd -gen-credentials writes", svc, src)
		}
		return
	}
	if _, err := os.Stat(rel); err != nil {
		t.Errorf("%s mounts %s: %v", svc, src, err)
	}
}

// TestCompose reads deploy/compose.yaml as podman-compose and docker
// compose would, and checks what it can without a container engine (this
// machine has none: the file was never run here): its services, that it
// mounts only files that exist or that the generator writes, that its
// builds name stages of the Containerfile, that ports stay on loopback,
// and that each replica's config passes the daemon's check in the
// container's file system as the mounts make it.
func TestCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	var want []string
	for _, n := range nodes {
		want = append(want, n.name)
	}
	want = append(want, "takedownd-1", "takedownd-2", "mailpit")
	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	stages := parseContainerfile(t, "Containerfile")
	for name, s := range c.Services {
		for _, m := range s.mounts(t) {
			if m.bind() {
				generatedOrExisting(t, name, m.src)
			} else if _, ok := c.Volumes[m.src]; !ok {
				t.Errorf("%s: volume %s is not declared", name, m.src)
			}
		}
		for _, f := range s.EnvFile {
			generatedOrExisting(t, name, f)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond the host's loopback", name, p)
			}
		}
		if s.Restart == "" {
			t.Errorf("%s has no restart policy", name)
		}
		if s.Build == nil && name != "mailpit" {
			t.Errorf("%s builds nothing: it runs an image of this repository", name)
		}
		if s.Build != nil {
			if s.Build.Dockerfile != "deploy/Containerfile" || filepath.Clean(s.Build.Context) != ".." {
				t.Errorf("%s builds %s in %s, want deploy/Containerfile in the repository root", name, s.Build.Dockerfile, s.Build.Context)
			}
			findStage(t, stages, s.Build.Target)
		}
	}
	if img := c.Services["mailpit"].Image; !strings.Contains(img, "axllent/mailpit") {
		t.Errorf("mailpit runs %s, want axllent/mailpit", img)
	}
	composeNodes(t, c, stages)
	for _, r := range []string{"takedownd-1", "takedownd-2"} {
		composeReplica(t, c, r, stages)
	}
}

// composeNodes checks the NATS services: each runs its node file, from
// the mounted deploy/nats/, with nats.env, its store on a volume at the
// image's volume, and the routes of nats.env reach the services.
func composeNodes(t *testing.T, c composeFile, stages []stage) {
	t.Helper()
	volume := findStage(t, stages, "nats-server").last(t, "VOLUME").args[0]
	for _, n := range nodes {
		s := c.Services[n.name]
		conf := flagValue(s.Command, "-c")
		src := resolve(t, s.mounts(t), conf)
		if src != filepath.Clean(n.file) {
			t.Errorf("%s runs %s, which is %s, want %s", n.name, conf, src, n.file)
			continue
		}
		if !slices.Contains(s.EnvFile, filepath.Join(credentialsDir, clustercreds.EnvFile)) {
			t.Errorf("%s: env_file %v lacks the generated %s", n.name, s.EnvFile, clustercreds.EnvFile)
		}
		if !slices.ContainsFunc(s.mounts(t), func(m mount) bool { return !m.bind() && m.dst == volume }) {
			t.Errorf("%s: no volume at %s, the image's store", n.name, volume)
		}
		if s.StopSignal != "SIGUSR2" {
			t.Errorf("%s stops with %q, want SIGUSR2 (lame duck mode)", n.name, s.StopSignal)
		}
	}
	for _, r := range clustercreds.DefaultRoutes {
		host, _, _ := net.SplitHostPort(r)
		if _, ok := c.Services[host]; !ok {
			t.Errorf("nats.env's default route %s is no compose service", r)
		}
	}
}

// composeReplica lays out the replica's container file system from its
// mounts and runs the daemon's check on the config it is started with.
func composeReplica(t *testing.T, c composeFile, name string, stages []stage) {
	t.Helper()
	s := c.Services[name]
	d := findStage(t, stages, "takedownd")
	entry := d.last(t, "ENTRYPOINT").args
	data := flagValue(entry, "-data")
	conf := flagValue(s.Command, "-config")
	if conf == "" {
		t.Fatalf("%s: command %v names no -config", name, s.Command)
	}
	root := t.TempDir()
	for _, m := range s.mounts(t) {
		switch {
		case !m.bind():
			if m.dst != data {
				t.Errorf("%s: volume %s at %s, not at the data dir %s", name, m.src, m.dst, data)
			}
		case filepath.Clean(m.src) == credentialsDir:
			credentials(t, filepath.Join(root, m.dst), nil)
		default:
			b, err := os.ReadFile(m.src)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			writeFile(t, filepath.Join(root, m.dst), []byte(underRoot(string(b), root)), 0o644)
		}
	}
	file := filepath.Join(root, conf)
	if _, err := app.CheckConfig(file, filepath.Join(root, data)); err != nil {
		t.Fatalf("%s: takedownd -check-config %s in the container:\n%v", name, conf, err)
	}
	cfg, err := app.LoadConfig(file, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.NATS.URLs {
		host, _, _ := net.SplitHostPort(strings.TrimPrefix(u, "nats://"))
		if _, ok := c.Services[host]; !ok || !slices.Contains(s.DependsOn, host) {
			t.Errorf("%s: nats.urls has %s, which is not a service it depends on", name, u)
		}
	}
	if h := cfg.Notify.SMTP.Host; h != "mailpit" || cfg.Notify.SMTP.Port != 1025 {
		t.Errorf("%s: notices go to %s:%d, want mailpit:1025", name, h, cfg.Notify.SMTP.Port)
	}
	_, port, _ := net.SplitHostPort(cfg.API.Listen)
	if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], ":"+port) {
		t.Errorf("%s publishes %v; the API listens on %s", name, s.Ports, cfg.API.Listen)
	}
	grace, err := time.ParseDuration(s.StopGracePeriod)
	if err != nil || grace <= cfg.ShutdownTimeout {
		t.Errorf("%s: stop_grace_period %q is not above shutdown_timeout %s", name, s.StopGracePeriod, cfg.ShutdownTimeout)
	}
}

// resolve maps a path in the container to the file beside compose.yaml
// that a bind mount puts there, "" if none does.
func resolve(t *testing.T, mounts []mount, p string) string {
	t.Helper()
	for _, m := range mounts {
		if !m.bind() {
			continue
		}
		if p == m.dst {
			return filepath.Clean(m.src)
		}
		if rest, ok := strings.CutPrefix(p, strings.TrimSuffix(m.dst, "/")+"/"); ok {
			return filepath.Join(m.src, rest)
		}
	}
	return ""
}
