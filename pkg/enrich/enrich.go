// Package enrich finds out who hosts a reported URL, where, and whom to tell:
// it resolves the host (with its CNAME chain), asks GeoIP and RDAP about
// every address and RDAP about the registrable domain, recognises CDNs in
// front of the origin and decides the hosting country. Every contact keeps
// its source, because the audit must say why we mailed whom.
//
// The Enricher does the lookups for one URL; the Stage consumes the enrich
// work queue, records the result on the case and hands it to routing.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/cdn"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// Resolver resolves a host name; *dns.Resolver is one.
type Resolver interface {
	Resolve(ctx context.Context, host string) (dns.Answer, error)
}

// Registry answers RDAP questions; *rdap.Client is one.
type Registry interface {
	LookupIP(ctx context.Context, addr netip.Addr) (*rdap.Network, error)
	LookupDomain(ctx context.Context, name string) (*rdap.Domain, error)
}

// Upstream finds the levels above a hoster, where escalation goes: the
// parent network and the origin AS. It is an optional add-on of Registry
// (found by type assertion, as *rdap.Client has it), so a Registry without
// it simply yields no upstream contacts.
type Upstream interface {
	LookupParent(ctx context.Context, n *rdap.Network) (*rdap.Network, error)
	LookupAutnum(ctx context.Context, asn uint32) (*rdap.Autnum, error)
}

// Locator says where an address is and who announces it; *geoip.DB is one.
type Locator interface {
	Lookup(addr netip.Addr) (geoip.Info, error)
}

// ContactBook is the hotline's own contact book, which wins over RDAP;
// *contactbook.Book is one.
type ContactBook interface {
	Lookup(host string, addrs []netip.Addr, asns []uint) (contactbook.Match, bool)
}

// CDNDetector recognises CDNs and reverse proxies; *cdn.Detector is one.
type CDNDetector interface {
	Match(ev cdn.Evidence) (cdn.Match, bool)
}

var (
	_ Resolver     = (*dns.Resolver)(nil)
	_ Registry     = (*rdap.Client)(nil)
	_ Upstream     = (*rdap.Client)(nil)
	_ NetworkCache = (*rdap.Client)(nil)
	_ Locator      = (*geoip.DB)(nil)
	_ CDNDetector  = (*cdn.Detector)(nil)
	_ ContactBook  = (*contactbook.Book)(nil)
)

// Errors of Enrich, classified where they are first seen.
var (
	// ErrUnresolvable means DNS says the host has no address (NXDOMAIN,
	// NODATA, a CNAME loop). The enrichment returned with it still holds
	// the CNAME chain seen.
	ErrUnresolvable = errors.New("host unresolvable")
	// ErrTemporary means DNS failed (SERVFAIL, timeouts): try again soon.
	ErrTemporary = errors.New("temporary dns failure")
	// ErrIncomplete means an RDAP lookup failed in a way a later attempt
	// may fix (429, 5xx, timeouts). The enrichment returned with it is
	// usable, with the gap listed in Problems.
	ErrIncomplete = errors.New("enrichment incomplete")
)

// Options configure an Enricher. Resolver, Registry and CDN are required;
// a nil Locator means GeoIP is off.
type Options struct {
	Resolver Resolver
	Registry Registry
	Locator  Locator
	CDN      CDNDetector
	// Contacts is the hotline's contact book; nil means none.
	Contacts ContactBook
	// CountryRule is config.CountryGeoIPFirst (default), CountryRDAPFirst
	// or CountryAgree.
	CountryRule string
	// MaxAddresses bounds the addresses looked up per host (default 8):
	// a host answering with hundreds must not cost hundreds of lookups.
	MaxAddresses int
	// Prefetch is how many RDAP network lookups at most run in the
	// background for cases that wait parked (HosterPending); 0: none, a
	// case's worker waits for its lookups itself. Parking needs a
	// Registry that is a NetworkCache.
	Prefetch int
	Log      *slog.Logger
	Now      func() time.Time
}

// Enricher turns a URL into a takedown.Enrichment. It is safe for
// concurrent use.
type Enricher struct {
	opts     Options
	prefetch *prefetcher // nil: no parking
}

// New returns an Enricher.
func New(opts Options) (*Enricher, error) {
	if opts.Resolver == nil || opts.Registry == nil || opts.CDN == nil {
		return nil, errors.New("new enricher: resolver, registry and cdn detector are required")
	}
	if opts.MaxAddresses <= 0 {
		opts.MaxAddresses = 8
	}
	if opts.CountryRule == "" {
		opts.CountryRule = RuleGeoIPFirst
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &Enricher{opts: opts}
	if known, ok := opts.Registry.(NetworkCache); ok && opts.Prefetch > 0 {
		e.prefetch = newPrefetcher(opts.Registry, known, opts.Prefetch)
	}
	return e, nil
}

// Enrich looks u up in full: what a first notice needs and the levels
// above the hoster that escalation needs. Errors match ErrUnresolvable,
// ErrTemporary or ErrIncomplete; with ErrUnresolvable and ErrIncomplete
// the returned enrichment is still worth recording.
func (e *Enricher) Enrich(ctx context.Context, u urlnorm.URL) (takedown.Enrichment, error) {
	enr, addrs, err := e.resolve(ctx, u)
	if err != nil {
		return enr, err
	}
	l := e.lookupHoster(ctx, addrs)
	e.lookupAbove(ctx, l, u.Domain)
	return e.build(enr, l)
}

// EnrichForNotice looks up what a first notice needs: DNS, GeoIP, the
// RDAP networks of the addresses (their abuse contacts and country), CDN
// detection and the contact book. The registrar, the parent networks and
// the origin ASes only serve escalation: they are left out, the
// enrichment says so (EscalationPending) and Escalation finds them later.
// A registrar's rate limit (Verisign's 60 a minute against thousands of
// domains) then never holds up a first notice.
//
// When the networks name no contact a first notice could go to, the
// case goes to a person, who needs the registrar and the site's owner to
// decide: then everything is looked up at once, as Enrich does. Errors
// are Enrich's.
func (e *Enricher) EnrichForNotice(ctx context.Context, u urlnorm.URL) (takedown.Enrichment, error) {
	enr, addrs, err := e.resolve(ctx, u)
	if err != nil {
		return enr, err
	}
	l := e.lookupHoster(ctx, addrs)
	first, err := e.build(enr, l)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		return first, err
	}
	if _, retry := l.problems(); retry == nil && !Noticeable(&first) {
		e.lookupAbove(ctx, l, u.Domain)
		return e.build(enr, l)
	}
	first.EscalationPending = true
	return first, err
}

// Noticeable reports whether an enrichment names someone a first notice
// can go to (a hoster's or CDN's abuse contact) in a known country. One
// that does not goes to review, where a person needs the whole chain.
func Noticeable(enr *takedown.Enrichment) bool {
	if enr.HostingCountry() == "" {
		return false
	}
	return slices.ContainsFunc(enr.Contacts, func(c takedown.Contact) bool {
		return c.Role == RoleHoster || c.Role == RoleCDN
	})
}

// resolve starts an enrichment of u with its addresses (at most
// MaxAddresses of them).
func (e *Enricher) resolve(ctx context.Context, u urlnorm.URL) (takedown.Enrichment, []netip.Addr, error) {
	enr := takedown.Enrichment{At: e.opts.Now().UTC(), Host: u.Host, IPLiteral: u.IsIP()}
	var addrs []netip.Addr
	if u.IsIP() {
		addrs = []netip.Addr{u.IP.Unmap()}
	} else {
		ans, err := e.opts.Resolver.Resolve(ctx, u.Host)
		enr.CNAMEs = ans.CNAMEs
		switch {
		case errors.Is(err, dns.ErrUnresolvable):
			enr.Problems = append(enr.Problems, "dns: "+err.Error())
			return enr, nil, fmt.Errorf("resolve host: %w", classified{ErrUnresolvable, err})
		case err != nil:
			return enr, nil, fmt.Errorf("resolve host: %w", classified{ErrTemporary, err})
		}
		addrs = ans.Addrs
	}
	if len(addrs) > e.opts.MaxAddresses {
		enr.Problems = append(enr.Problems, fmt.Sprintf("host has %d addresses, looked up the first %d", len(addrs), e.opts.MaxAddresses))
		addrs = addrs[:e.opts.MaxAddresses]
	}
	return enr, addrs, nil
}

// build assembles the enrichment begun by resolve from the lookups made
// so far.
func (e *Enricher) build(start takedown.Enrichment, l *lookups) (takedown.Enrichment, error) {
	enr := start
	enr.Problems = slices.Clone(start.Problems)
	problems, retry := l.problems()
	enr.Problems = append(enr.Problems, problems...)
	e.assemble(&enr, l)
	addUpstream(&enr, l)
	if retry != nil {
		return enr, fmt.Errorf("%w: %w", ErrIncomplete, retry)
	}
	return enr, nil
}

// lookups is everything the registries and databases said about a host,
// per address in answer order, so the result does not depend on which
// lookup finished first.
type lookups struct {
	addrs   []netip.Addr
	geo     []geoip.Info
	geoErrs []error
	nets    []*rdap.Network // nil where RDAP had nothing
	netErrs []error
	domain  *rdap.Domain
	domErr  error
	// The levels above: per address the parent of its network, and per
	// distinct origin AS (in order of first appearance) its autnum.
	parents    []*rdap.Network
	parentErrs []error
	asns       []uint32
	autnums    []*rdap.Autnum
	autnumErrs []error
}

// lookupHoster asks GeoIP and RDAP about every address, the RDAP
// questions concurrently: each may wait for a server's rate limit.
func (e *Enricher) lookupHoster(ctx context.Context, addrs []netip.Addr) *lookups {
	n := len(addrs)
	l := &lookups{addrs: addrs, geo: make([]geoip.Info, n), geoErrs: make([]error, n),
		nets: make([]*rdap.Network, n), netErrs: make([]error, n),
		parents: make([]*rdap.Network, n), parentErrs: make([]error, n)}
	var wg sync.WaitGroup
	for i, a := range addrs {
		if e.opts.Locator != nil {
			l.geo[i], l.geoErrs[i] = e.opts.Locator.Lookup(a)
		}
		wg.Go(func() { l.nets[i], l.netErrs[i] = e.opts.Registry.LookupIP(ctx, a) })
	}
	wg.Wait()
	return l
}

// lookupAbove asks RDAP, concurrently, for what only escalation needs:
// each network's parent, each origin AS and the registrable domain (its
// registrar and owner).
func (e *Enricher) lookupAbove(ctx context.Context, l *lookups, domain string) {
	up, _ := e.opts.Registry.(Upstream)
	var wg sync.WaitGroup
	if up != nil {
		for i, n := range l.nets {
			if n != nil {
				wg.Go(func() { l.parents[i], l.parentErrs[i] = up.LookupParent(ctx, n) })
			}
		}
		l.asns = originASNs(l.geo)
		l.autnums, l.autnumErrs = make([]*rdap.Autnum, len(l.asns)), make([]error, len(l.asns))
		for i, asn := range l.asns {
			wg.Go(func() { l.autnums[i], l.autnumErrs[i] = up.LookupAutnum(ctx, asn) })
		}
	}
	if domain != "" {
		wg.Go(func() { l.domain, l.domErr = e.opts.Registry.LookupDomain(ctx, domain) })
	}
	wg.Wait()
}

// problems lists what went wrong, and returns the first failure that a
// later attempt may fix.
func (l *lookups) problems() ([]string, error) {
	var out []string
	var retry error
	note := func(what string, err error) {
		switch {
		case err == nil:
		case errors.Is(err, rdap.ErrNotFound):
			out = append(out, what+": no rdap data")
		default:
			out = append(out, what+": "+err.Error())
			if rdap.IsRetryable(err) && retry == nil {
				retry = err
			}
		}
	}
	for i, a := range l.addrs {
		if l.geoErrs[i] != nil {
			out = append(out, "geoip "+a.String()+": "+l.geoErrs[i].Error())
		}
		note("rdap ip "+a.String(), l.netErrs[i])
	}
	note("rdap domain", l.domErr)
	// The levels above only serve escalation: their failures are noted
	// but never make the enrichment incomplete or retried. A parent the
	// registry has no answer for is no failure: asking was a guess from
	// the child's hints. An AS that GeoIP names but the registry does not
	// know is worth a note.
	for i, err := range l.parentErrs {
		if err != nil && !errors.Is(err, rdap.ErrNotFound) {
			out = appendOnce(out, upstreamProblem("rdap parent of "+l.nets[i].Handle, err))
		}
	}
	for i, err := range l.autnumErrs {
		if err != nil {
			out = appendOnce(out, upstreamProblem(fmt.Sprintf("rdap autnum AS%d", l.asns[i]), err))
		}
	}
	return out, retry
}

// classified gives err the class kind (for errors.Is) without printing the
// class again: the resolver's own message already says it, and the
// message ends up in front of an analyst on the case.
type classified struct{ kind, err error }

func (c classified) Error() string   { return c.err.Error() }
func (c classified) Unwrap() []error { return []error{c.kind, c.err} }
