package geoipsim

import (
	"net/netip"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"
)

func TestSpread(t *testing.T) {
	t.Parallel()
	bench := netip.MustParsePrefix("198.18.0.0/15")
	tests := []struct {
		name     string
		n        int
		wantBits int
	}{
		{"few networks are /24s", 10, 24},
		{"512 still fit as /24s", 512, 24},
		{"2000 networks shrink to /26s", 2000, 26},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nets := Spread(tc.n, []string{"NL", "DE"}, 7)
			if len(nets) != tc.n {
				t.Fatalf("got %d networks, want %d", len(nets), tc.n)
			}
			seen := map[netip.Prefix]bool{}
			for _, n := range nets {
				if n.Prefix.Bits() != tc.wantBits || !bench.Contains(n.Prefix.Addr()) || seen[n.Prefix] {
					t.Fatalf("bad or repeated network %s", n.Prefix)
				}
				seen[n.Prefix] = true
			}
			if last := nets[len(nets)-1]; last.Country != []string{"NL", "DE"}[(tc.n-1)%2] || last.ASN != 64512+uint32((tc.n-1)%7) {
				t.Errorf("last network %+v not spread round-robin", last)
			}
		})
	}
}

func TestDatabasesReadBack(t *testing.T) {
	t.Parallel()
	nets := Spread(600, []string{"NL", "BE", "FR"}, 3)
	country, err := CountryDB(nets)
	if err != nil {
		t.Fatal(err)
	}
	asn, err := ASNDB(nets)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := geoip2.OpenBytes(country)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := geoip2.OpenBytes(asn)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 599} {
		addr := nets[i].Prefix.Addr().Next()
		c, err := cr.Country(addr)
		if err != nil {
			t.Fatal(err)
		}
		a, err := ar.ASN(addr)
		if err != nil {
			t.Fatal(err)
		}
		if c.Country.ISOCode != nets[i].Country || a.AutonomousSystemNumber != uint(nets[i].ASN) ||
			a.AutonomousSystemOrganization != nets[i].Org {
			t.Errorf("%s: got %s AS%d %q, want %+v", addr, c.Country.ISOCode,
				a.AutonomousSystemNumber, a.AutonomousSystemOrganization, nets[i])
		}
	}
}
