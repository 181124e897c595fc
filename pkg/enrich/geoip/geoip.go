// Package geoip answers which country an address is in and which autonomous
// system announces it, from MaxMind databases (.mmdb: GeoLite2/GeoIP2
// Country or City, and ASN) read with github.com/oschwald/geoip2-golang/v2.
//
// The files are watched: Run polls their size and modification time and
// swaps in a changed file atomically; a broken new file is reported and the
// old database stays in use. Without configured paths the package still
// works and returns empty answers, so the daemon runs without GeoIP.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	geoip2 "github.com/oschwald/geoip2-golang/v2"
)

// Config names the database files; an empty path turns that part off.
type Config struct {
	// CountryPath is a Country or City database.
	CountryPath string
	// ASNPath is an ASN database.
	ASNPath string
	// ReloadInterval is how often the files are checked for changes.
	// Default 1m.
	ReloadInterval time.Duration
}

// Info is what the databases say about one address. Fields are empty when
// a database is off or does not know the address.
type Info struct {
	// Country is the ISO 3166-1 alpha-2 code where the address is located,
	// or, when the database has no location, where its network is
	// registered.
	Country string
	ASN     uint
	ASOrg   string
	// CountrySource and ASNSource name the database that gave the fact
	// ("GeoLite2-Country built 2025-01-02"), for the audit trail.
	CountrySource string
	ASNSource     string
}

// DB looks addresses up in the current databases. It is safe for
// concurrent use.
type DB struct {
	log      *slog.Logger
	interval time.Duration
	country  *source
	asn      *source
	mu       sync.Mutex // serialises Refresh
}

// New opens the configured databases. A configured file that cannot be
// opened, or is of the wrong type, is an error: at start that is a mistake
// in the configuration, not a passing state.
func New(cfg Config, log *slog.Logger) (*DB, error) {
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = time.Minute
	}
	db := &DB{
		log:      log,
		interval: cfg.ReloadInterval,
		country:  newSource("country", cfg.CountryPath, checkCountry),
		asn:      newSource("asn", cfg.ASNPath, checkASN),
	}
	for _, s := range db.sources() {
		if _, err := s.refresh(); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// Enabled reports which databases are configured, so the caller can say
// once at start that GeoIP (or a part of it) is off.
func (db *DB) Enabled() (country, asn bool) {
	return db.country.path != "", db.asn.path != ""
}

// Lookup returns what the databases say about addr. An IPv4-mapped IPv6
// address is looked up as IPv4. An error means a database is corrupt where
// addr points; the fields that could be read are still filled in.
func (db *DB) Lookup(addr netip.Addr) (Info, error) {
	addr = addr.Unmap()
	var info Info
	var errs []error
	if cur := db.country.current(); cur != nil {
		c, err := cur.reader.Country(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("look up country of %s: %w", addr, err))
		} else {
			info.Country = c.Country.ISOCode
			if info.Country == "" {
				info.Country = c.RegisteredCountry.ISOCode
			}
			info.CountrySource = cur.desc
		}
	}
	if cur := db.asn.current(); cur != nil {
		a, err := cur.reader.ASN(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("look up asn of %s: %w", addr, err))
		} else {
			info.ASN = a.AutonomousSystemNumber
			info.ASOrg = a.AutonomousSystemOrganization
			info.ASNSource = cur.desc
		}
	}
	return info, errors.Join(errs...)
}

// Refresh checks both files once and loads those that changed. The error
// says which new file was broken; the old database then stays in use, and
// the same broken file is not reported again.
func (db *DB) Refresh() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var errs []error
	for _, s := range db.sources() {
		loaded, err := s.refresh()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if loaded != nil {
			db.log.Info("geoip database reloaded", "database", s.kind, "path", s.path, "version", loaded.desc)
		}
	}
	return errors.Join(errs...)
}

// Run checks the files every ReloadInterval until ctx ends. A broken file
// is logged and skipped; Run itself only returns when ctx is done.
func (db *DB) Run(ctx context.Context) error {
	country, asn := db.Enabled()
	if !country && !asn {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(db.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := db.Refresh(); err != nil {
				db.log.Error("keep old geoip database", "err", err)
			}
		}
	}
}

func (db *DB) sources() []*source { return []*source{db.country, db.asn} }

func checkCountry(r *geoip2.Reader) error {
	_, err := r.Country(netip.IPv4Unspecified())
	return err
}

func checkASN(r *geoip2.Reader) error {
	_, err := r.ASN(netip.IPv4Unspecified())
	return err
}
