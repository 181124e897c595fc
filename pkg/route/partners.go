package route

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

//go:embed partners.yaml
var defaultPartners []byte

// DefaultPartners is the built-in partner directory (a copy of
// config/partners.yaml) with placeholder addresses.
func DefaultPartners() ([]byte, error) { return defaultPartners, nil }

// LoadPartners reads a partner directory; an empty path reads the
// built-in one.
func LoadPartners(path string) (map[string]Partner, error) {
	data := defaultPartners
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read partner directory: %w", err)
		}
	}
	return ParsePartners(data)
}

// ParsePartners decodes and checks a partner directory.
func ParsePartners(data []byte) (map[string]Partner, error) {
	var doc struct {
		Partners []Partner `yaml:"partners"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse partner directory: %w", err)
	}
	out := map[string]Partner{}
	var problems []string
	for i, p := range doc.Partners {
		p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
		where := fmt.Sprintf("partners[%d] (%s)", i, p.Name)
		switch {
		case len(p.Country) != 2:
			problems = append(problems, where+": country must be an ISO 3166-1 alpha-2 code")
		case p.Name == "":
			problems = append(problems, where+": name must be set")
		case p.Channel != "email" && p.Channel != "webhook" && p.Channel != "nats":
			problems = append(problems, where+": channel must be email, webhook or nats")
		case p.Channel == "webhook" && !strings.HasPrefix(p.Address, "https://") && !strings.HasPrefix(p.Address, "http://127.0.0.1"):
			problems = append(problems, where+": a webhook address must be an https URL")
		}
		if _, dup := out[p.Country]; dup {
			// Countries with several hotlines list the one that takes
			// forwards first; the others are kept for reference only.
			continue
		}
		out[p.Country] = p
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("partner directory: %s", strings.Join(problems, "; "))
	}
	return out, nil
}
