// Package geoipsim writes small MaxMind databases (GeoLite2-Country and
// GeoLite2-ASN shaped) from a table, for tests and load tools that need
// GeoIP answers without the real, licensed files. Nothing in production
// imports it.
package geoipsim

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one row of the table: what the databases say about a prefix.
// An empty Country leaves the prefix out of the Country database, a zero
// ASN and empty Org leave it out of the ASN database.
type Network struct {
	Prefix  netip.Prefix
	Country string // ISO 3166-1 alpha-2, e.g. "NL"
	ASN     uint32
	Org     string
}

// Database types as MaxMind names them; geoip2-golang refuses a Country
// lookup on a database of another type.
const (
	TypeCountry = "GeoLite2-Country"
	TypeASN     = "GeoLite2-ASN"
)

// CountryDB returns a GeoLite2-Country database for the table.
func CountryDB(nets []Network) ([]byte, error) {
	return build(TypeCountry, nets, func(n Network) (mmdbtype.Map, bool) {
		if n.Country == "" {
			return nil, false
		}
		c := mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
		return mmdbtype.Map{"country": c, "registered_country": c}, true
	})
}

// ASNDB returns a GeoLite2-ASN database for the table.
func ASNDB(nets []Network) ([]byte, error) {
	return build(TypeASN, nets, func(n Network) (mmdbtype.Map, bool) {
		rec := mmdbtype.Map{}
		if n.ASN != 0 {
			rec["autonomous_system_number"] = mmdbtype.Uint32(n.ASN)
		}
		if n.Org != "" {
			rec["autonomous_system_organization"] = mmdbtype.String(n.Org)
		}
		return rec, len(rec) > 0
	})
}

func build(dbType string, nets []Network, record func(Network) (mmdbtype.Map, bool)) ([]byte, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		RecordSize:   24,
		// Tests use documentation and benchmarking ranges, which the
		// writer treats as reserved.
		IncludeReservedNetworks: true,
		Description:             map[string]string{"en": "takedownd test database"},
	})
	if err != nil {
		return nil, fmt.Errorf("create %s tree: %w", dbType, err)
	}
	for _, n := range nets {
		rec, ok := record(n)
		if !ok {
			continue
		}
		p := n.Prefix.Masked()
		ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := tree.Insert(ipnet, rec); err != nil {
			return nil, fmt.Errorf("insert %s into %s: %w", p, dbType, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write %s: %w", dbType, err)
	}
	return buf.Bytes(), nil
}

// WriteFiles writes both databases into dir as country.mmdb and asn.mmdb
// and returns their paths.
func WriteFiles(dir string, nets []Network) (countryPath, asnPath string, err error) {
	countryPath = filepath.Join(dir, "country.mmdb")
	asnPath = filepath.Join(dir, "asn.mmdb")
	country, err := CountryDB(nets)
	if err != nil {
		return "", "", err
	}
	asn, err := ASNDB(nets)
	if err != nil {
		return "", "", err
	}
	if err := Replace(countryPath, country); err != nil {
		return "", "", err
	}
	if err := Replace(asnPath, asn); err != nil {
		return "", "", err
	}
	return countryPath, asnPath, nil
}

// Replace writes data to path through a temporary file and a rename, the
// way a database updater swaps files, so a reader never sees half a file.
func Replace(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create temp for %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}

// Spread returns n equal networks that tile 198.18.0.0/15 (the RFC 2544
// benchmarking range, which no hoster uses): /24s when n <= 512, smaller
// ones beyond, at most 131072. They go round-robin over the countries, with
// private-use ASNs 64512 + i%asns, for load tools.
func Spread(n int, countries []string, asns int) []Network {
	hostBits := 8
	for hostBits > 0 && n<<hostBits > 1<<17 {
		hostBits--
	}
	n = min(n, 1<<17)
	out := make([]Network, 0, n)
	for i := range n {
		v := uint32(198)<<24 | uint32(18)<<16 | uint32(i)<<hostBits
		addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		asn := 64512 + uint32(i%max(asns, 1))
		out = append(out, Network{
			Prefix:  netip.PrefixFrom(addr, 32-hostBits),
			Country: countries[i%len(countries)],
			ASN:     asn,
			Org:     fmt.Sprintf("Sim Hosting %d", asn),
		})
	}
	return out
}
