package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Secret is a value that may be written inline, or read from a file or an
// environment variable so that it need not sit in the YAML:
//
//	password: s3cret
//	password: {file: /run/secrets/nats}
//	password: {env: NATS_PASSWORD}
type Secret struct {
	Value string `yaml:"value"`
	File  string `yaml:"file"`
	Env   string `yaml:"env"`
}

// UnmarshalYAML accepts a plain string or a mapping. It refuses unknown
// keys itself: yaml.v3 does not pass its strict mode on to an
// UnmarshalYAML, and a misspelt {fiel: …} would leave the secret unset.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Value = n.Value
		return nil
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "value" && k != "file" && k != "env" {
				return fmt.Errorf("line %d: secret key %q is not one of value, file, env", n.Content[i].Line, k)
			}
		}
	}
	type plain Secret
	return n.Decode((*plain)(s))
}

// IsSet reports whether any source is configured.
func (s Secret) IsSet() bool { return s.Value != "" || s.File != "" || s.Env != "" }

// Resolve returns the secret from whichever source is set. An empty
// secret is an error: it would let anyone in, or fail later and vaguely.
func (s Secret) Resolve() (string, error) {
	if n := btoi(s.Value != "") + btoi(s.File != "") + btoi(s.Env != ""); n > 1 {
		return "", errors.New("secret has more than one source: set one of value, file and env")
	}
	switch {
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("secret environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.Value != "":
		return s.Value, nil
	}
	return "", errors.New("secret is not set")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// String never shows the secret, so a config dump cannot leak it.
func (s Secret) String() string {
	switch {
	case s.File != "":
		return "file:" + s.File
	case s.Env != "":
		return "env:" + s.Env
	case s.Value != "":
		return "(inline)"
	}
	return "(unset)"
}
