package contactbook

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// example is the commented example of config/contacts.yaml, uncommented.
func example(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "contacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "# The book is empty as shipped. Example:\n#\n")
	if !ok {
		t.Fatal("config/contacts.yaml has no example block")
	}
	var out []string
	for _, line := range strings.Split(block, "\n") {
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			out = append(out, strings.TrimPrefix(rest, " "))
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func TestShippedBook(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "config", "contacts.yaml")
	b, err := Load(path, false)
	if err != nil {
		t.Fatalf("load shipped book: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("shipped book has %d entries, want none: a hotline fills in its own", b.Len())
	}
	ex, err := Parse(example(t), "example")
	if err != nil {
		t.Fatalf("the commented example does not parse: %v", err)
	}
	if ex.Len() != 3 {
		t.Errorf("example has %d entries, want 3", ex.Len())
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "contacts.yaml")
	if b, err := Load(missing, true); err != nil || b.Len() != 0 {
		t.Errorf("missing optional book: %v, %d entries; want an empty book", err, b.Len())
	}
	if _, err := Load(missing, false); err == nil {
		t.Error("missing configured book: no error")
	}
}

const book = `contacts:
  - name: Hoster
    networks: [192.0.2.0/24, 2001:db8::/32]
    emails: [abuse@hoster.example]
  - name: Hoster customer
    networks: [192.0.2.128/25]
    emails: [abuse@customer.example]
  - name: Site
    domains: [Site.Example]
    emails: [abuse@site.example]
  - name: Site's shop
    domains: [shop.site.example]
    emails: [shop@site.example]
  - name: Transit
    asns: [64500, 64501]
    emails: [abuse@transit.example]
  - name: Bücher
    domains: [bücher.example]
    emails: [abuse@xn--bcher-kva.example]
`

func TestLookup(t *testing.T) {
	t.Parallel()
	b, err := Parse([]byte(book), "book.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		host  string
		addrs []netip.Addr
		asns  []uint
		want  string // entry name, "" for none
		by    string
	}{
		{"domain beats network and asn", "www.site.example", []netip.Addr{a("192.0.2.10")}, []uint{64500}, "Site", "domain:site.example"},
		{"longest domain wins", "img.shop.site.example", nil, nil, "Site's shop", "domain:shop.site.example"},
		{"the domain itself", "site.example.", nil, nil, "Site", "domain:site.example"},
		{"a name that only ends the same is no match", "othersite.example", []netip.Addr{a("198.51.100.1")}, nil, "", ""},
		{"idn domain written in unicode matches punycode", "www.xn--bcher-kva.example", nil, nil, "Bücher", "domain:xn--bcher-kva.example"},
		{"network beats asn", "www.other.example", []netip.Addr{a("192.0.2.10")}, []uint{64500}, "Hoster", "network:192.0.2.0/24"},
		{"longest prefix wins", "x.example", []netip.Addr{a("192.0.2.200")}, nil, "Hoster customer", "network:192.0.2.128/25"},
		{"longest prefix over all addresses", "x.example", []netip.Addr{a("192.0.2.10"), a("192.0.2.200")}, nil, "Hoster customer", "network:192.0.2.128/25"},
		{"ipv6", "x.example", []netip.Addr{a("2001:db8:1::5")}, nil, "Hoster", "network:2001:db8::/32"},
		{"ipv4-mapped address", "x.example", []netip.Addr{a("::ffff:192.0.2.10")}, nil, "Hoster", "network:192.0.2.0/24"},
		{"asn in address order", "x.example", []netip.Addr{a("198.51.100.1")}, []uint{64499, 64501, 64500}, "Transit", "asn:64501"},
		{"ip literal: no domain", "", []netip.Addr{a("198.51.100.1")}, nil, "", ""},
		{"nothing", "x.example", nil, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ok := b.Lookup(tc.host, tc.addrs, tc.asns)
			if ok != (tc.want != "") || m.Entry.Name != tc.want || m.By != tc.by {
				t.Errorf("lookup = %q by %q (%v), want %q by %q", m.Entry.Name, m.By, ok, tc.want, tc.by)
			}
		})
	}
	var empty *Book
	if _, ok := empty.Lookup("x.example", nil, nil); ok {
		t.Error("a nil book matched")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string // each must appear in the error
	}{
		{"unknown field with its line", "contacts:\n  - name: A\n    emails: [a@a.example]\n    asn: [1]\n", []string{"line 4", "field asn not found"}},
		{"not yaml", "contacts: [", []string{"contact book t.yaml"}},
		{"every problem at once, each with line and entry", `contacts:
  - name: A
    networks:
      - 192.0.2.0/24
      - 192.0.2.1/24
    emails: [a@a.example]
  - name: B
    domains: [net]
    emails: ["B <b@b.example>"]
    language: dutch
  - domains: [c.example]
    emails: [c@c.example]
    channel: fax
  - name: a
    asns: [64500]
    emails: [d@d.example]
  - name: E
    emails: [e@e.example]
  - name: F
    networks: [192.0.2.0/24]
    emails: []
    channel: webhook
    webhook: http://hooks.example/x
`, []string{
			"t.yaml:5: contacts[0] (A): 192.0.2.1/24 has host bits set (the network is 192.0.2.0/24)",
			`t.yaml:8: contacts[1] (B): "net" is not a domain name under a tld`,
			`t.yaml:9: contacts[1] (B): "B <b@b.example>" is not a bare e-mail address`,
			`t.yaml:10: contacts[1] (B): "dutch" is not a two-letter ISO 639-1 code`,
			"t.yaml:11: contacts[2]: name missing",
			`t.yaml:13: contacts[2]: channel "fax": want email or webhook`,
			`t.yaml:14: contacts[3] (a): name "a" used by the entry on line 2 too`,
			"t.yaml:17: contacts[4] (E): nothing to match by",
			`t.yaml:20: contacts[5] (F): network 192.0.2.0/24 is claimed by "A" too`,
			"t.yaml:21: contacts[5] (F): no address",
			`t.yaml:23: contacts[5] (F): channel webhook needs an https URL`,
		}},
		{"ipv4-mapped prefix", "contacts:\n  - name: A\n    networks: ['::ffff:192.0.2.0/120']\n    emails: [a@a.example]\n", []string{"IPv4-mapped"}},
		{"a domain claimed twice", "contacts:\n  - name: A\n    domains: [a.example]\n    emails: [a@a.example]\n  - name: B\n    domains: [A.example.]\n    emails: [b@b.example]\n", []string{`t.yaml:6: contacts[1] (B): domain a.example is claimed by "A" too`}},
		{"an asn claimed twice", "contacts:\n  - name: A\n    asns: [64500]\n    emails: [a@a.example]\n  - name: B\n    asns: [64501, 64500]\n    emails: [b@b.example]\n", []string{`t.yaml:6: contacts[1] (B): AS64500 is claimed by "A" too`}},
		{"a webhook on an email contact", "contacts:\n  - name: A\n    asns: [1]\n    emails: [a@a.example]\n    webhook: https://x.example/\n", []string{"a webhook is set but the channel is email"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.text), "t.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(book))
	f.Add([]byte("contacts:\n  - name: A\n    networks: [0.0.0.0/0]\n    emails: [a@a.example]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		for _, e := range b.Entries() {
			if e.Name == "" || len(e.Emails) == 0 || (e.Channel != ChannelEmail && e.Channel != ChannelWebhook) {
				t.Errorf("accepted entry %+v", e)
			}
		}
		b.Lookup("a.b.example", []netip.Addr{netip.MustParseAddr("192.0.2.1")}, []uint{1})
	})
}
