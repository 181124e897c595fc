package app

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/takedownd/takedownd/pkg/config"
)

// LoadConfig reads the configuration as takedownd starts with it: the
// YAML file at path over the defaults (an empty path: the defaults alone),
// dataDir in place of data_dir when set (the -data flag), every key
// validated and every secret resolved. Nothing is started: a problem is
// found before NATS is.
func LoadConfig(path, dataDir string) (config.Config, error) {
	return config.Load(path, func(cfg *config.Config) {
		if dataDir != "" {
			cfg.DataDir = dataDir
		}
	})
}

// CheckConfig is takedownd -check-config: LoadConfig, then one line that
// sums up what the daemon would run. The error lists every problem with
// its key path.
func CheckConfig(path, dataDir string) (string, error) {
	cfg, err := LoadConfig(path, dataDir)
	if err != nil {
		return "", err
	}
	if _, err := tokenPartners(cfg); err != nil {
		return "", err
	}
	source := path
	if source == "" {
		source = "built-in defaults"
	}
	return "ok: " + source + ": " + summary(cfg), nil
}

// summary says in a line where the daemon listens and where notices go,
// naming no secret.
func summary(cfg config.Config) string {
	var parts []string
	switch {
	case len(cfg.NATS.URLs) > 0:
		parts = append(parts, fmt.Sprintf("nats %s (replicas %d)", strings.Join(cfg.NATS.URLs, ","), cfg.NATS.Replicas))
	case cfg.NATS.Embedded.InProcessOnly:
		parts = append(parts, "embedded nats in-process only")
	default:
		parts = append(parts, "embedded nats on "+cfg.NATS.Embedded.Listen)
	}
	tokens := fmt.Sprintf("%d tokens", len(cfg.API.Tokens))
	if len(cfg.API.Tokens) == 0 {
		tokens = "token file " + filepath.Join(cfg.DataDir, TokenFileName)
	}
	parts = append(parts, fmt.Sprintf("api on %s (%s)", cfg.API.Listen, tokens))
	if s := cfg.Notify.SMTP; s.Host != "" {
		parts = append(parts, fmt.Sprintf("notices via %s:%d (tls %s)", s.Host, s.Port, s.TLS))
	} else {
		parts = append(parts, "notices to the outbox in "+cfg.DataDir)
	}
	if !cfg.Enrich.Enabled {
		parts = append(parts, "enrichment off")
	}
	if in := cfg.Inbound; in.SMTP.Listen != "" || in.Dir != "" {
		var ways []string
		if in.SMTP.Listen != "" {
			ways = append(ways, "smtp on "+in.SMTP.Listen)
		}
		if in.Dir != "" {
			ways = append(ways, "dir "+in.Dir)
		}
		parts = append(parts, "replies by "+strings.Join(ways, " and "))
	}
	parts = append(parts, "data in "+cfg.DataDir)
	return strings.Join(parts, "; ")
}

// Version is what takedownd -version prints: the module version and the
// VCS revision the binary was built from, when the build recorded them,
// and the Go version that built it.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "takedownd (no build information)"
	}
	return version(bi)
}

func version(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	out := "takedownd " + v
	if rev := settings["vcs.revision"]; rev != "" {
		vcs := []string{settings["vcs"] + " " + rev}
		if t := settings["vcs.time"]; t != "" {
			vcs = append(vcs, t)
		}
		if settings["vcs.modified"] == "true" {
			vcs = append(vcs, "modified")
		}
		out += " (" + strings.TrimSpace(strings.Join(vcs, ", ")) + ")"
	}
	return out + " " + bi.GoVersion
}
