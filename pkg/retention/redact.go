package retention

import (
	"slices"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// What anonymising keeps and drops, field by field. It keeps what the
// statistics count (states, times, routes, countries, ASes, network
// handles, the hoster key, notice kinds and outcomes, reminders,
// reappearances) and what identifies the report in the analyst tool
// (report ids, classification, content hashes); it drops what points at
// the material or names a person or mailbox: the URL (replaced by its
// keyed hash), the host and domain, CNAMEs, IP addresses and ranges,
// every contact and recipient address, the analysts, and free-text
// reasons (kept only scrubbed).

// anonymise changes c in place into its anonymised form, at now.
func anonymise(c *takedown.Case, h *stats.URLHasher, now time.Time) {
	a := &takedown.Anonymised{At: now, URLHash: h.Sum(c.URL), Hoster: stats.HosterKey(c), Audiences: audiencesKept(c)}
	if r := c.Routing; r != nil {
		for _, addr := range r.Failing {
			a.FailingContacts = append(a.FailingContacts, h.Sum(strings.ToLower(addr)))
		}
		r.Contacts, r.Failing, r.Reason = nil, nil, scrub(r.Reason)
	}
	c.URL, c.OriginalURL, c.Host, c.Domain = "", "", "", ""
	c.StateReason = scrub(c.StateReason)
	for i := range c.Reports {
		c.Reports[i].Analyst, c.Reports[i].Source = "", ""
	}
	if e := c.Enrichment; e != nil {
		c.Enrichment = anonymousEnrichment(e)
	}
	for i := range c.Notices {
		n := &c.Notices[i]
		n.To, n.MessageID, n.Outcome = "", "", scrub(n.Outcome)
	}
	c.Anonymised = a
}

// audiencesKept are the case's audience keys less the addresses its
// forwards went to (the partner's country key stays).
func audiencesKept(c *takedown.Case) []string {
	keys := c.Audiences()
	for _, n := range c.Notices {
		if n.To != "" {
			keys = slices.DeleteFunc(keys, func(k string) bool { return k == takedown.AudienceForward(n.To) })
		}
	}
	return keys
}

// anonymousEnrichment keeps where the material was hosted (countries,
// ASes, network handles and names, the CDN's and registrar's names) and
// drops every address, range, host name and contact.
func anonymousEnrichment(e *takedown.Enrichment) *takedown.Enrichment {
	out := &takedown.Enrichment{At: e.At, Country: e.Country}
	out.Country.Note = scrub(out.Country.Note)
	for _, ad := range e.Addresses {
		out.Addresses = append(out.Addresses, takedown.AddressInfo{Country: ad.Country, ASN: ad.ASN, ASName: ad.ASName, Network: ad.Network})
	}
	for _, n := range e.Networks {
		out.Networks = append(out.Networks, takedown.Network{Handle: n.Handle, Name: n.Name, Country: n.Country, Parent: n.Parent,
			Source: takedown.Source{Kind: n.Source.Kind, Server: n.Source.Server}})
	}
	if e.CDN != nil {
		out.CDN = &takedown.CDN{Name: e.CDN.Name, OriginUnknown: e.CDN.OriginUnknown}
	}
	if e.Registrar != nil {
		out.Registrar = &takedown.Registrar{Name: e.Registrar.Name, IANAID: e.Registrar.IANAID}
	}
	return out
}

// redactEvent is the copy of ev that stands for it on an anonymised
// case's trail: its id, type, time, actor and states, its reason
// scrubbed, its data reduced to keptData, and the original's sequence
// with a keyed digest of its bytes. The anonymised event itself is
// written clean by retention and stays as it is.
func redactEvent(ev takedown.Event, raw []byte, h *stats.URLHasher, now time.Time) (takedown.Event, bool) {
	if ev.Type == takedown.EventAnonymised && ev.Actor == actor {
		return ev, false
	}
	cp := takedown.Event{
		ID: ev.ID, CaseID: ev.CaseID, Type: ev.Type, At: ev.At, Actor: ev.Actor, From: ev.From, To: ev.To,
		Reason: scrub(ev.Reason), Data: scrubData(ev.Data),
		Redacted: &takedown.Redaction{Seq: ev.Seq, Digest: h.Sum(string(raw)), At: now},
	}
	return cp, true
}

// anonymiseNotice drops the URL and addresses of the case's item from a
// notice record, and the recipient once no item names a URL any more
// (every case of the notice is anonymised). It reports whether it
// changed anything.
func anonymiseNotice(n *takedown.Notice, caseID string) bool {
	changed := false
	for i := range n.Items {
		it := &n.Items[i]
		if it.CaseID == caseID && (it.URL != "" || len(it.IPs) > 0) {
			it.URL, it.IPs, changed = "", nil, true
		}
	}
	for _, it := range n.Items {
		if it.URL != "" {
			return changed
		}
	}
	if len(n.Items) == 0 && !n.State.Done() {
		return changed // still collecting: not this case's to clear
	}
	if n.To != "" || n.LastError != "" {
		n.To, n.LastError, n.Outcome, changed = "", "", scrub(n.Outcome), true
	}
	return changed
}
