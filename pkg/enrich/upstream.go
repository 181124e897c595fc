package enrich

import (
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// RoleUpstream is the contact one level above the hoster: the parent
// network's or the origin AS's abuse address. Escalation mails it when the
// hoster does not act; routing never sends the first notice there.
const RoleUpstream = "upstream"

// SourceRDAPAutnum is the source kind of a contact found in the RDAP
// answer for the origin AS. A parent network's contact has kind
// SourceRDAPIP with "parent" at the head of its path.
const SourceRDAPAutnum = "rdap_autnum"

// originASNs lists the distinct origin ASes GeoIP named, in address order.
func originASNs(geo []geoip.Info) []uint32 {
	var out []uint32
	for _, g := range geo {
		if g.ASN == 0 || g.ASN > math.MaxUint32 {
			continue
		}
		if asn := uint32(g.ASN); !slices.Contains(out, asn) {
			out = append(out, asn)
		}
	}
	return out
}

// addUpstream puts the upstream contacts right after the contacts of the
// networks themselves (hoster or CDN) and before the owner and registrar
// ones: parent networks first, then origin ASes. An address the hoster (or
// CDN) level already has is no new escalation level and is skipped.
func addUpstream(enr *takedown.Enrichment, l *lookups) {
	below := map[string]bool{}
	at := 0
	for i, c := range enr.Contacts {
		if c.Role == RoleHoster || c.Role == RoleCDN {
			below[strings.ToLower(c.Email)] = true
			at = i + 1
		}
	}
	var up contacts
	add := func(c takedown.Contact) {
		if !below[strings.ToLower(c.Email)] {
			up.add(c)
		}
	}
	for i, p := range l.parents {
		if p == nil {
			continue
		}
		for _, c := range p.Contacts {
			ct := contactOf(c, RoleUpstream, SourceRDAPIP)
			ct.Source.Path = append([]string{"parent"}, c.Path...)
			ct.Source.Note = "parent of " + l.nets[i].Handle + "; " + ct.Source.Note
			add(ct)
		}
	}
	for _, a := range l.autnums {
		if a == nil {
			continue
		}
		for _, c := range a.Contacts {
			add(contactOf(c, RoleUpstream, SourceRDAPAutnum))
		}
	}
	if len(up.list) > 0 {
		enr.Contacts = slices.Insert(enr.Contacts, at, up.list...)
	}
}

// upstreamProblem words a failed lookup of a level above the hoster; the
// client's errors already name the lookup.
func upstreamProblem(what string, err error) string {
	if errors.Is(err, rdap.ErrNotFound) {
		return what + ": no rdap data"
	}
	return err.Error()
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
