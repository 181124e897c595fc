package cdn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ownList = `providers:
  - name: cloudflare
    kind: reverse_proxy
    abuse: abuse-nl@cloudflare.example
    asns: [13335]
    cname_suffixes: ["*.cdn.cloudflare.net."]
    source: agreement with the hotline
  - name: Local Proxy
    kind: cdn
    abuse: abuse@proxy.example
    asns: [64500]
    source: test
`

func writeList(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cdn.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	t.Parallel()
	builtin, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	path := writeList(t, ownList)
	tests := []struct {
		name      string
		cfg       Config
		wantLen   int
		wantAbuse string // of the provider matching AS13335
		wantLocal bool   // AS64500 matches
	}{
		{"built-in only", Config{}, len(builtin), "abuse@cloudflare.com", false},
		{"extend replaces by name and adds", Config{Path: path}, len(builtin) + 1, "abuse-nl@cloudflare.example", true},
		{"replace", Config{Path: path, Mode: ModeReplace}, 2, "abuse-nl@cloudflare.example", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			list, err := Load(tc.cfg)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(list) != tc.wantLen {
				t.Errorf("providers = %d, want %d", len(list), tc.wantLen)
			}
			d, err := NewDetector(list)
			if err != nil {
				t.Fatalf("index: %v", err)
			}
			if m, _ := d.Match(Evidence{ASNs: []uint{13335}}); m.Provider.Abuse != tc.wantAbuse {
				t.Errorf("AS13335 abuse = %q, want %q", m.Provider.Abuse, tc.wantAbuse)
			}
			if m, _ := d.Match(Evidence{CNAMEs: []string{"a.cdn.cloudflare.net"}}); m.Provider.Abuse != tc.wantAbuse {
				t.Errorf("cname abuse = %q, want %q", m.Provider.Abuse, tc.wantAbuse)
			}
			if _, ok := d.Match(Evidence{ASNs: []uint{64500}}); ok != tc.wantLocal {
				t.Errorf("AS64500 matched = %v, want %v", ok, tc.wantLocal)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string {
		return "providers:\n  - name: X\n" + fields
	}
	ok := "    kind: cdn\n    abuse: abuse@x.example\n    asns: [64501]\n    source: test\n"
	tests := []struct {
		name    string
		text    string
		mode    Mode
		wantErr string
	}{
		{"unknown field", entry(ok + "    asn: [1]\n"), "", "field asn not found"},
		{"bad kind", entry("    kind: hoster\n    abuse: abuse@x.example\n    asns: [1]\n"), "", "kind"},
		{"bad abuse address", entry("    kind: cdn\n    abuse: nobody\n    asns: [1]\n"), "", "abuse address"},
		{"nothing to match by", entry("    kind: cdn\n    abuse: abuse@x.example\n    source: test\n"), "", "neither"},
		{"no source", entry("    kind: cdn\n    abuse: abuse@x.example\n    asns: [64501]\n"), "", "source missing"},
		{"mixed asn on a cdn_or_cloud", entry("    kind: cdn_or_cloud\n    abuse: abuse@x.example\n    asns: [15169]\n    source: test\n"), "", "AS15169: a cdn_or_cloud ASN carries hosting too"},
		{"rdap network pattern with a star inside", entry(ok + "    rdap_networks: [\"AM*CF\"]\n"), "", "rdap network"},
		{"suffix is a tld", entry(ok + "    cname_suffixes: [net]\n"), "", "not a domain"},
		{"asn out of range", entry("    kind: cdn\n    abuse: abuse@x.example\n    asns: [4294967296]\n"), "", "out of range"},
		{"unknown mode", entry(ok), "merge", "unknown mode"},
		{"not yaml", "providers: [", "", "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(Config{Path: writeList(t, tc.text), Mode: tc.mode})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Load(Config{Path: filepath.Join(t.TempDir(), "none.yaml")}); err == nil {
		t.Errorf("missing file: no error")
	}
}

func TestDetectorRejectsAmbiguity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    Provider
	}{
		{"same asn", Provider{Name: "B", Kind: KindCDN, Abuse: "b@b.example", ASNs: []uint{64500}}},
		{"same suffix", Provider{Name: "B", Kind: KindCDN, Abuse: "b@b.example", CNAMESuffixes: []string{"cdn.example"}}},
		{"same rdap network", Provider{Name: "B", Kind: KindCDN, Abuse: "b@b.example", RDAPNetworks: []string{"EDGE-NET"}}},
		{"same rdap network pattern", Provider{Name: "B", Kind: KindCDN, Abuse: "b@b.example", RDAPNetworks: []string{"EDGE-*"}}},
	}
	a := Provider{Name: "A", Kind: KindCDN, Abuse: "a@a.example", ASNs: []uint{64500}, CNAMESuffixes: []string{"cdn.example"}, RDAPNetworks: []string{"EDGE-NET", "EDGE-*"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewDetector([]Provider{a, tc.b}); err == nil {
				t.Errorf("no error for a claim shared by two providers")
			}
		})
	}
}
