package contactbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/idna"
)

// file is the document: a list of entries under "contacts".
type file struct {
	Contacts []Entry `yaml:"contacts"`
}

// nodes is the same document as YAML nodes, for the lines of errors.
type nodes struct {
	Contacts []yaml.Node `yaml:"contacts"`
}

// Parse reads and checks a book; name is the file's name in errors and in
// the contacts' source. Every problem is reported at once, each with its
// line and entry, so one edit fixes them all.
func Parse(data []byte, name string) (*Book, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("contact book %s: %w", name, err)
	}
	var n nodes
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("contact book %s: %w", name, err)
	}
	return build(f.Contacts, n.Contacts, name)
}

// FromEntries builds a book from entries kept elsewhere than in a file
// (the runtime layer, package kvbook), checked as a file's are; name
// stands for the file in the contacts' source and in problems.
func FromEntries(entries []Entry, name string) (*Book, error) {
	return build(slices.Clone(entries), nil, name)
}

// build checks the entries and indexes them; nodes, when there are any,
// are the entries' YAML for the lines of problems.
func build(entries []Entry, nodeList []yaml.Node, name string) (*Book, error) {
	f := file{Contacts: entries}
	n := nodes{Contacts: nodeList}
	b := &Book{File: name, domains: map[string]int{}, asns: map[uint]int{}}
	c := checker{file: name}
	names := map[string]int{}
	networks := map[netip.Prefix]int{}
	profile := idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())
	for i, e := range f.Contacts {
		var node *yaml.Node
		if i < len(n.Contacts) {
			node = &n.Contacts[i]
			e.Line = node.Line
		}
		at := entryAt{c: &c, node: node, index: i, name: e.Name}
		e.Name = strings.TrimSpace(e.Name)
		switch key := strings.ToLower(e.Name); {
		case key == "":
			at.add("name", -1, "name missing: say who the contact is")
		case names[key] > 0:
			at.add("name", -1, "name %q used by the entry on line %d too", e.Name, names[key])
		default:
			names[key] = e.Line
		}
		if len(e.Domains)+len(e.Networks)+len(e.ASNs) == 0 {
			at.add("", -1, "nothing to match by: list domains, networks or asns")
		}
		for j, d := range e.Domains {
			norm, err := profile.ToASCII(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), "."))
			if _, ok := mdns.IsDomainName(norm); err != nil || !ok || norm == "" || !strings.Contains(norm, ".") {
				at.add("domains", j, "%q is not a domain name under a tld", d)
				continue
			}
			if k, dup := b.domains[norm]; dup {
				at.add("domains", j, "domain %s is claimed by %q too", norm, f.Contacts[k].Name)
				continue
			}
			b.domains[norm] = i
			e.Domains[j] = norm
		}
		for j, s := range e.Networks {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			switch {
			case err != nil:
				at.add("networks", j, "%q is not a CIDR prefix", s)
				continue
			case p != p.Masked():
				at.add("networks", j, "%s has host bits set (the network is %s)", s, p.Masked())
				continue
			case p.Addr().Is4In6():
				at.add("networks", j, "%s is IPv4-mapped: write the IPv4 prefix", s)
				continue
			}
			if k, dup := networks[p]; dup {
				at.add("networks", j, "network %s is claimed by %q too", p, f.Contacts[k].Name)
				continue
			}
			networks[p] = i
			b.networks = append(b.networks, claim{prefix: p, entry: i})
			e.Networks[j] = p.String()
		}
		for j, asn := range e.ASNs {
			if asn == 0 || uint64(asn) > math.MaxUint32 {
				at.add("asns", j, "AS%d is out of range", asn)
				continue
			}
			if k, dup := b.asns[asn]; dup {
				at.add("asns", j, "AS%d is claimed by %q too", asn, f.Contacts[k].Name)
				continue
			}
			b.asns[asn] = i
		}
		if len(e.Emails) == 0 {
			at.add("emails", -1, "no address: list at least one e-mail address (notices go by e-mail, also to webhook contacts until that channel is delivered)")
		}
		for j, addr := range e.Emails {
			a, err := mail.ParseAddress(strings.TrimSpace(addr))
			if err != nil || a.Name != "" || a.Address != strings.TrimSpace(addr) {
				at.add("emails", j, "%q is not a bare e-mail address", addr)
				continue
			}
			e.Emails[j] = a.Address
		}
		e.Language = strings.ToLower(strings.TrimSpace(e.Language))
		if l := e.Language; l != "" && (len(l) != 2 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z') {
			at.add("language", -1, "%q is not a two-letter ISO 639-1 code (nl, en, de…)", e.Language)
		}
		switch e.Channel = strings.ToLower(strings.TrimSpace(e.Channel)); e.Channel {
		case "", ChannelEmail:
			e.Channel = ChannelEmail
			if e.Webhook != "" {
				at.add("webhook", -1, "a webhook is set but the channel is email")
			}
		case ChannelWebhook:
			if u, err := url.Parse(e.Webhook); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				at.add("webhook", -1, "channel webhook needs an https URL, got %q", e.Webhook)
			}
		default:
			at.add("channel", -1, "channel %q: want email or webhook", e.Channel)
		}
		b.entries = append(b.entries, e)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return b, nil
}

func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checker collects problems, each with its file and line.
type checker struct {
	file     string
	problems []string
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return fmt.Errorf("contact book %s: %d problem(s):\n  %s", c.file, len(c.problems), strings.Join(c.problems, "\n  "))
}

// entryAt reports problems of one entry.
type entryAt struct {
	c     *checker
	node  *yaml.Node
	index int
	name  string
}

// add records a problem with the line of key's value (of its item-th item
// when item ≥ 0), or of the entry when key is not in it.
func (e entryAt) add(key string, item int, format string, args ...any) {
	who := fmt.Sprintf("contacts[%d]", e.index)
	if e.name != "" {
		who += fmt.Sprintf(" (%s)", e.name)
	}
	e.c.problems = append(e.c.problems, fmt.Sprintf("%s:%d: %s: %s", e.c.file, lineOf(e.node, key, item), who, fmt.Sprintf(format, args...)))
}

func lineOf(n *yaml.Node, key string, item int) int {
	if n == nil {
		return 0
	}
	if n.Kind != yaml.MappingNode || key == "" {
		return n.Line
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			continue
		}
		v := n.Content[i+1]
		if item >= 0 && v.Kind == yaml.SequenceNode && item < len(v.Content) {
			return v.Content[item].Line
		}
		return v.Line
	}
	return n.Line
}
