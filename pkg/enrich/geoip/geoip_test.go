package geoip

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func table(country string) []geoipsim.Network {
	return []geoipsim.Network{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Country: country, ASN: 64500, Org: "Example Hosting B.V."},
		{Prefix: netip.MustParsePrefix("198.51.100.0/25"), ASN: 13335, Org: "CLOUDFLARENET"},
		{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Country: "DE", ASN: 64501, Org: "Beispiel GmbH"},
	}
}

func open(t *testing.T, country string) (*DB, string, string) {
	t.Helper()
	cPath, aPath, err := geoipsim.WriteFiles(t.TempDir(), table(country))
	if err != nil {
		t.Fatalf("write databases: %v", err)
	}
	db, err := New(Config{CountryPath: cPath, ASNPath: aPath}, discard())
	if err != nil {
		t.Fatalf("open databases: %v", err)
	}
	return db, cPath, aPath
}

func TestLookup(t *testing.T) {
	t.Parallel()
	db, _, _ := open(t, "NL")
	tests := []struct {
		name string
		addr string
		want Info
	}{
		{"ipv4 with country and asn", "192.0.2.77", Info{Country: "NL", ASN: 64500, ASOrg: "Example Hosting B.V."}},
		{"ipv4-mapped ipv6", "::ffff:192.0.2.1", Info{Country: "NL", ASN: 64500, ASOrg: "Example Hosting B.V."}},
		{"asn without country", "198.51.100.1", Info{ASN: 13335, ASOrg: "CLOUDFLARENET"}},
		{"ipv6", "2001:db8:1::53", Info{Country: "DE", ASN: 64501, ASOrg: "Beispiel GmbH"}},
		{"unknown address", "203.0.113.1", Info{}},
		{"outside the /25", "198.51.100.200", Info{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.Lookup(netip.MustParseAddr(tc.addr))
			if err != nil {
				t.Fatalf("lookup: %v", err)
			}
			if got.Country != tc.want.Country || got.ASN != tc.want.ASN || got.ASOrg != tc.want.ASOrg {
				t.Errorf("lookup %s = %+v, want %+v", tc.addr, got, tc.want)
			}
			if !strings.HasPrefix(got.CountrySource, "GeoLite2-Country built ") ||
				!strings.HasPrefix(got.ASNSource, "GeoLite2-ASN built ") {
				t.Errorf("sources = %q, %q", got.CountrySource, got.ASNSource)
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	db, err := New(Config{}, discard())
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if c, a := db.Enabled(); c || a {
		t.Errorf("enabled = %v, %v, want false, false", c, a)
	}
	got, err := db.Lookup(netip.MustParseAddr("192.0.2.1"))
	if err != nil || got != (Info{}) {
		t.Errorf("lookup = %+v, %v, want empty", got, err)
	}
	if err := db.Refresh(); err != nil {
		t.Errorf("refresh: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.Run(ctx); err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cPath, aPath, err := geoipsim.WriteFiles(dir, table("NL"))
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a maxmind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"missing file", Config{CountryPath: filepath.Join(dir, "none.mmdb")}},
		{"not a database", Config{ASNPath: junk}},
		{"asn database as country", Config{CountryPath: aPath}},
		{"country database as asn", Config{ASNPath: cPath}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.cfg, discard()); err == nil {
				t.Errorf("new succeeded, want error")
			}
		})
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	db, cPath, _ := open(t, "NL")
	addr := netip.MustParseAddr("192.0.2.1")
	country := func() string {
		t.Helper()
		info, err := db.Lookup(addr)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		return info.Country
	}
	replace := func(data []byte) {
		t.Helper()
		if err := geoipsim.Replace(cPath, data); err != nil {
			t.Fatal(err)
		}
	}
	build := func(c string) []byte {
		t.Helper()
		data, err := geoipsim.CountryDB(table(c))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	steps := []struct {
		name    string
		change  func()
		wantErr bool
		want    string
	}{
		{"unchanged", func() {}, false, "NL"},
		{"replaced by rename", func() { replace(build("BE")) }, false, "BE"},
		{"broken file keeps the old one", func() { replace([]byte("garbage")) }, true, "BE"},
		{"broken file reported once", func() {}, false, "BE"},
		{"wrong type keeps the old one", func() {
			data, err := geoipsim.ASNDB(table("XX"))
			if err != nil {
				t.Fatal(err)
			}
			replace(data)
		}, true, "BE"},
		{"removed keeps the old one", func() {
			if err := os.Remove(cPath); err != nil {
				t.Fatal(err)
			}
		}, true, "BE"},
		{"back again", func() { replace(build("FR")) }, false, "FR"},
		{"written in place", func() {
			if err := os.WriteFile(cPath, append(build("LU"), 0), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, "LU"},
	}
	// Steps depend on each other, so they run in order.
	for _, st := range steps {
		st.change()
		err := db.Refresh()
		if (err != nil) != st.wantErr {
			t.Errorf("%s: refresh err = %v, want error %v", st.name, err, st.wantErr)
		}
		if got := country(); got != st.want {
			t.Errorf("%s: country = %q, want %q", st.name, got, st.want)
		}
	}
}

func TestRunReloadsWhileLookingUp(t *testing.T) {
	t.Parallel()
	cPath, aPath, err := geoipsim.WriteFiles(t.TempDir(), table("NL"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := New(Config{CountryPath: cPath, ASNPath: aPath, ReloadInterval: time.Millisecond}, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- db.Run(ctx) }()

	// Lookups race the swap; -race proves they share nothing unsafely.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.Lookup(netip.MustParseAddr("192.0.2.1")); err != nil {
					t.Errorf("lookup: %v", err)
					return
				}
			}
		})
	}
	data, err := geoipsim.CountryDB(table("SE"))
	if err != nil {
		t.Fatal(err)
	}
	if err := geoipsim.Replace(cPath, data); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := db.Lookup(netip.MustParseAddr("192.0.2.1"))
		if info.Country == "SE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not reload the changed file")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("run: %v", err)
	}
}
