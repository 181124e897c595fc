package rdap

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openrdap/rdap"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// parsed is what we take out of one fixture, without any HTTP.
type parsed struct {
	network   *Network
	autnum    *Autnum
	registrar *Registrar
	contacts  []Contact
	err       error
}

// parseFixture runs the same extraction the client runs, with stub
// fetching off.
func parseFixture(ctx context.Context, kind string, body []byte, queried netip.Addr) parsed {
	class := map[string]string{"ip": "ip network", "ip6": "ip network", "domain": "domain", "autnum": "autnum", "entity": "entity", "error": "error"}[kind]
	obj, err := decodeObject(body, class)
	if err != nil {
		return parsed{err: err}
	}
	const server = "fixture"
	switch o := obj.(type) {
	case *rdap.Error:
		return parsed{err: rdapError(server, o)}
	case *rdap.IPNetwork:
		n := buildNetwork(ctx, o, queried, server, nil)
		return parsed{network: n, contacts: n.Contacts}
	case *rdap.Domain:
		return parsed{registrar: registrarOf(ctx, server, o.Handle, o.Entities, nil),
			contacts: domainContacts(ctx, server, o.Handle, o.Entities, nil)}
	case *rdap.Autnum:
		a := buildAutnum(ctx, o, 0, server, nil)
		return parsed{autnum: a, contacts: a.Contacts}
	case *rdap.Entity:
		return parsed{contacts: abuseContacts(ctx, server, o.Handle, o.Entities, o.Remarks, nil, true, nil)}
	}
	return parsed{err: errors.New("unexpected object")}
}

func fixturesDir(t testing.TB) string {
	t.Helper()
	dir, err := rdapsim.FindFixtures()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// firstContact is the contact we expect first: the one we would mail.
type firstContact struct {
	email, handle, kind string
	path                []string
	pref                int
}

func TestEveryFixture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		why     string
		queried string
		first   *firstContact // nil: no contact expected
		count   int
		// networks; parent is the prefix LookupParent would ask for ("" for
		// none)
		start, end  string
		cidrs       []string
		addressOnly bool
		parent      string
		// autnums
		asHandle string
		asRange  [2]uint32
		// domains
		registrar *Registrar
		wantErr   error
		status    int
	}{
		{file: "ripe/ip-130.59.31.80.json", why: "top-level abuse role; type=abuse address listed twice, kept once",
			queried: "130.59.31.80", first: &firstContact{"abuse@switch.ch", "AR31930-RIPE", KindEntity, []string{"abuse"}, 1}, count: 1,
			start: "130.59.0.0", end: "130.59.255.255", cidrs: []string{"130.59.0.0/16"}}, // parent is the whole space: none
		{file: "arin/ip-13.72.183.192.json", why: "abuse POC nested under the registrant; range from cidr0_cidrs",
			queried: "13.72.183.192", first: &firstContact{"abuse@microsoft.com", "MAC74-ARIN", KindEntity, []string{"registrant", "abuse"}, 0}, count: 1,
			start: "13.64.0.0", end: "13.107.255.255", cidrs: []string{"13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"}, parent: "13.64.0.0/10"},
		{file: "arin/ip-192.198.0.0.json", why: "one POC holds abuse among other roles, at two depths: closest wins",
			queried: "192.198.0.0", first: &firstContact{"daniel.petsinger@radiolinkinternet.com", "PETSI-ARIN", KindEntity, []string{"abuse"}, 0}, count: 1,
			start: "192.198.0.0", end: "192.198.3.255", cidrs: []string{"192.198.0.0/22"}, parent: "192.198.0.0/21"},
		{file: "arin/ip-74.125.225.229.legacy2015.json", why: "zero-padded start address 074.125.000.000",
			queried: "74.125.225.229", first: &firstContact{"arin-contact@google.com", "ZG39-ARIN", KindEntity, []string{"registrant", "abuse"}, 0}, count: 1,
			start: "74.125.0.0", end: "74.125.255.255", cidrs: []string{"74.125.0.0/16"}, parent: "74.124.0.0/15"},
		{file: "lacnic/ip-200.57.141.161.legacy2015.json", why: "start = end = queried IP: cached for that address only",
			queried: "200.57.141.161", first: &firstContact{"operacion.redes@TRIARA.COM", "RYT2", KindEntity, []string{"abuse"}, 0}, count: 1,
			start: "200.57.141.161", end: "200.57.141.161", cidrs: []string{"200.57.141.161/32"}, addressOnly: true},
		{file: "afrinic/ip-196.11.240.215.legacy2015.json", why: "no roles at all: the address is only in remarks; odd range split into prefixes",
			queried: "196.11.240.215", first: &firstContact{"abuse@mtnbusiness.co.za", "", KindRemarks, nil, 0}, count: 1,
			start: "196.11.239.0", end: "196.11.246.255", cidrs: []string{"196.11.239.0/24", "196.11.240.0/22", "196.11.244.0/23", "196.11.246.0/24"}, parent: "196.11.240.0/21"},
		{file: "ripe/ip-62.239.237.1.legacy2015.json", why: "no objectClassName (openrdap says Help); /32-suffixed addresses; three plain addresses in the abuse role",
			queried: "62.239.237.1", first: &firstContact{"zzdnsr@bt.com", "BTCR3-RIPE", KindEntity, []string{"abuse"}, 0}, count: 3,
			start: "62.239.237.0", end: "62.239.237.255", cidrs: []string{"62.239.237.0/24"}},
		{file: "ripe/ip6-2a00-2381-ffff--1.legacy2015.json", why: "IPv6, no objectClassName, /128-suffixed addresses",
			queried: "2a00:2381:ffff::1", first: &firstContact{"zzdnsr@bt.com", "BTCR3-RIPE", KindEntity, []string{"abuse"}, 0}, count: 3,
			start: "2a00:2381:ffff::", end: "2a00:2381:ffff:0:ffff:ffff:ffff:ffff", cidrs: []string{"2a00:2381:ffff::/64"}},
		{file: "apnic/ip-210.107.73.73.legacy2015.json", why: "IRT abuse entity with pref=1 wins over the spam address in remarks (remarks are the last resort)",
			queried: "210.107.73.73", first: &firstContact{"hostmaster@nic.or.kr", "IRT-KRNIC-KR", KindEntity, []string{"abuse"}, 1}, count: 1,
			start: "210.107.0.0", end: "210.107.127.255", cidrs: []string{"210.107.0.0/17"}, parent: "210.0.0.0/8"},

		{file: "verisign/domain-google.com.json", why: "registrar 292 from publicIds; abuse nested in the registrar",
			registrar: &Registrar{Handle: "292", IANAID: "292", Contacts: []Contact{{Email: "abusecomplaints@markmonitor.com", Path: []string{"registrar", "abuse"}, Kind: KindEntity}}}},
		{file: "verisign/domain-google.com-2024.json", why: "same as above, 2024 capture",
			registrar: &Registrar{Handle: "292", IANAID: "292", Contacts: []Contact{{Email: "abusecomplaints@markmonitor.com", Path: []string{"registrar", "abuse"}}}}},
		{file: "verisign/domain-themarquetry.com.json", why: "registrar 1647 (registrar.eu)",
			registrar: &Registrar{Handle: "1647", IANAID: "1647", Contacts: []Contact{{Email: "abuse@registrar.eu", Path: []string{"registrar", "abuse"}}}}},
		{file: "verisign/domain-20c.com.json", why: "no publicIds: the numeric handle is the IANA id; abuse entity without handle",
			registrar: &Registrar{Handle: "113", IANAID: "113", Contacts: []Contact{{Email: "abuse@joker.com", Path: []string{"registrar", "abuse"}}}}},
		{file: "markmonitor/domain-google.com.json", why: "the registrar's own answer: redacted contacts, registrar without vCard, abuse with type=work (not preferred)",
			registrar: &Registrar{Handle: "292", IANAID: "292", Contacts: []Contact{{Email: "abusecomplaints@markmonitor.com", Path: []string{"registrar", "abuse"}}}}},
		{file: "afnic/domain-afnic.fr.json", why: ".fr: registrar with IANA id 9999, no abuse role anywhere: its own vCard's address",
			registrar: &Registrar{Handle: "RAR939-FRNIC", IANAID: "9999", Name: "Registry Operations", Contacts: []Contact{
				{Email: "support@afnic.fr", Handle: "RAR939-FRNIC", Path: []string{"registrar"}, Kind: KindOwnVCard}}}},
		{file: "norid/domain-norway.no.json", why: ".no: registrar reg42-NORID with its address only in its own vCard (pref=1); the domain's technical entity is not the registrar's",
			registrar: &Registrar{Handle: "reg42-NORID", Name: "Domeneshop AS", Contacts: []Contact{
				{Email: "kundeservice@domeneshop.no", Handle: "reg42-NORID", Path: []string{"registrar"}, Kind: KindOwnVCard, Pref: 1}}}},
		{file: "cznic/domain-example.cz.json", why: ".cz: registrar is a bare handle, no vCard, no id",
			registrar: &Registrar{Handle: "REG-INTERNET-CZ"}},
		{file: "synthetic/domain-redaction-rfc9537-example.json", why: "RFC 9537 example: redactions do not hide the registrar abuse contact",
			registrar: &Registrar{Handle: "123", IANAID: "1", Name: "Example Registrar Inc.", Contacts: []Contact{{Email: "abuse@organization.example", Path: []string{"registrar", "abuse"}}}}},

		{file: "arin/autnum-13335.json", why: "abuse role at top level and again nested: once",
			first: &firstContact{"abuse@cloudflare.com", "ABUSE2916-ARIN", KindEntity, []string{"abuse"}, 0}, count: 1,
			asHandle: "AS13335", asRange: [2]uint32{13335, 13335}},
		{file: "arin/autnum-16509.json", why: "abuse POC among routing/noc/technical; remarks ignored",
			first: &firstContact{"abuse@amazonaws.com", "AEA8-ARIN", KindEntity, []string{"registrant", "abuse"}, 0}, count: 1,
			asHandle: "AS16509", asRange: [2]uint32{16509, 16509}},
		{file: "arin/autnum-2914.json", why: "ARIN abuse POC nested under the registrant org",
			first: &firstContact{"abuse@ntt.net", "NAAC-ARIN", KindEntity, []string{"registrant", "abuse"}, 0}, count: 1,
			asHandle: "AS2914", asRange: [2]uint32{2914, 2914}},
		{file: "apnic/autnum-9269.json", why: "IRT: pref=1 address before the plain one",
			first: &firstContact{"abuse@hkbn.net", "IRT-HKBN-HK", KindEntity, []string{"abuse"}, 1}, count: 2,
			asHandle: "AS9269", asRange: [2]uint32{9269, 9269}},
		{file: "ripe/autnum-8283.json", why: "the same role object appears as tech/admin and as abuse; type=abuse address first",
			first: &firstContact{"abuse@coloclue.net", "CLUE1-RIPE", KindEntity, []string{"abuse"}, 1}, count: 3,
			asHandle: "AS8283", asRange: [2]uint32{8283, 8283}},
		{file: "afrinic/autnum-37271.json", why: "no abuse role, no address in remarks: the registrant's abuse@ address by heuristic",
			first: &firstContact{"abuse@workonline.africa", "ORG-WCL1-AFRINIC", KindHeuristic, []string{"registrant"}, 0}, count: 1,
			asHandle: "AS37271", asRange: [2]uint32{37271, 37271}},

		{file: "arin/entity-GOVI.json", why: "entity answer; a POC holding abuse among its roles",
			first: &firstContact{"support@govital.net", "GTS7-ARIN", KindEntity, []string{"abuse"}, 0}, count: 1},
		{file: "ripe/entity-CLUE1-RIPE.json", why: "entity answer that lists only handles: nothing to mail", count: 0},

		{file: "ripe/error-501.json", why: "RDAP error object: a retryable server error, not data", status: 501},
	}

	dir := fixturesDir(t)
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
	}
	shared, err := fs.Glob(os.DirFS(dir), "*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	own, err := fs.Glob(rdapsim.RepoFixtures(), "*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range append(shared, own...) {
		if !strings.HasPrefix(rel, "iana-bootstrap/") && !covered[rel] {
			t.Errorf("fixture %s has no case in the table", rel)
		}
	}

	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			body, err := readFixture(dir, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			kind, _, _ := strings.Cut(filepath.Base(tc.file), "-")
			var queried netip.Addr
			if tc.queried != "" {
				queried = netip.MustParseAddr(tc.queried)
			}
			got := parseFixture(t.Context(), kind, body, queried)
			if tc.status != 0 {
				var e *Error
				if !errors.As(got.err, &e) || e.Status != tc.status || !e.Retryable {
					t.Fatalf("err = %v, want retryable status %d (%s)", got.err, tc.status, tc.why)
				}
				return
			}
			if got.err != nil {
				t.Fatalf("parse: %v (%s)", got.err, tc.why)
			}
			if tc.registrar != nil {
				checkRegistrar(t, got.registrar, tc.registrar, tc.why)
				return
			}
			if len(got.contacts) != tc.count {
				t.Errorf("%d contacts %v, want %d (%s)", len(got.contacts), got.contacts, tc.count, tc.why)
			}
			if tc.first != nil && len(got.contacts) > 0 {
				c := got.contacts[0]
				if c.Email != tc.first.email || c.Handle != tc.first.handle || c.Kind != tc.first.kind ||
					!slices.Equal(c.Path, tc.first.path) || c.Pref != tc.first.pref || c.Server != "fixture" {
					t.Errorf("first contact = %+v, want %+v (%s)", c, *tc.first, tc.why)
				}
			}
			if n := got.network; n != nil {
				if n.Start != tc.start || n.End != tc.end || !slices.Equal(n.CIDRs, tc.cidrs) || n.AddressOnly != tc.addressOnly {
					t.Errorf("range = %s-%s %v only=%v, want %s-%s %v only=%v (%s)",
						n.Start, n.End, n.CIDRs, n.AddressOnly, tc.start, tc.end, tc.cidrs, tc.addressOnly, tc.why)
				}
				if !n.Contains(queried) {
					t.Errorf("network does not contain the queried %s", queried)
				}
				q, ok := parentQuery(n)
				if got := map[bool]string{true: q.String(), false: ""}[ok]; got != tc.parent {
					t.Errorf("parent query = %q, want %q (%s)", got, tc.parent, tc.why)
				}
			}
			if a := got.autnum; a != nil && (a.Handle != tc.asHandle || a.Start != tc.asRange[0] || a.End != tc.asRange[1] || a.Server != "fixture") {
				t.Errorf("autnum = %s %d-%d at %s, want %s %v (%s)", a.Handle, a.Start, a.End, a.Server, tc.asHandle, tc.asRange, tc.why)
			}
		})
	}
}

// readFixture reads a fixture from the shared directory, or from those
// kept in the repository.
func readFixture(dir, file string) ([]byte, error) {
	body, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return fs.ReadFile(rdapsim.RepoFixtures(), file)
	}
	return body, err
}

func checkRegistrar(t *testing.T, got, want *Registrar, why string) {
	t.Helper()
	if got == nil {
		t.Fatalf("no registrar (%s)", why)
	}
	if got.Handle != want.Handle || got.IANAID != want.IANAID || (want.Name != "" && got.Name != want.Name) {
		t.Errorf("registrar = %q/%q/%q, want %q/%q/%q (%s)", got.Handle, got.IANAID, got.Name, want.Handle, want.IANAID, want.Name, why)
	}
	if len(got.Contacts) != len(want.Contacts) {
		t.Fatalf("registrar contacts = %+v, want %d (%s)", got.Contacts, len(want.Contacts), why)
	}
	for i, w := range want.Contacts {
		g := got.Contacts[i]
		if g.Email != w.Email || !slices.Equal(g.Path, w.Path) || (w.Kind != "" && g.Kind != w.Kind) ||
			(w.Handle != "" && g.Handle != w.Handle) || g.Pref != w.Pref || g.Server != "fixture" {
			t.Errorf("registrar contact %d = %+v, want %+v (%s)", i, g, w, why)
		}
	}
}
