package takedown

import "time"

// Source says where a fact came from, so the audit can tell why we mailed
// whom: the server asked, the object that answered and the path of roles
// that led to the contact.
type Source struct {
	Kind   string   `json:"kind"` // rdap_ip, rdap_domain, rdap_registrar, rdap_autnum, geoip, cdn_list, contact_book, dns, config
	Server string   `json:"server,omitempty"`
	Handle string   `json:"handle,omitempty"`
	Path   []string `json:"path,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// SourceContactBook is the Source kind of a contact from the hotline's own
// contact book; routing trusts it over what the internet's registries say.
const SourceContactBook = "contact_book"

// Contact is an abuse address with its provenance.
type Contact struct {
	Email  string `json:"email"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role"` // hoster, upstream, cdn, registrar, partner, authority
	Source Source `json:"source"`
	// Language is the language the contact reads ("nl", "en"), when the
	// hotline's contact book says; empty leaves it to routing's rule.
	Language string `json:"language,omitempty"`
	// Channel is how the contact wants notices: "" or "email" by e-mail to
	// Email, "webhook" by a POST to Webhook. Only the contact book sets
	// it; until the notify stage delivers to hosters' webhooks, such a
	// contact is mailed at Email, which the book always has.
	Channel string `json:"channel,omitempty"`
	Webhook string `json:"webhook,omitempty"`
	// MachineReadable marks a contact whose intake parses X-ARF e-mail
	// transport (multipart/report, report-type=feedback-report, one
	// report per URL): the notify stage sends it that form. Only the
	// contact book sets it.
	MachineReadable bool `json:"machine_readable,omitempty"`
}

// AddressInfo is what we know about one address the host resolved to.
type AddressInfo struct {
	IP      string `json:"ip"`
	Country string `json:"country,omitempty"`
	ASN     uint   `json:"asn,omitempty"`
	ASName  string `json:"as_name,omitempty"`
	Network string `json:"network,omitempty"` // handle of the RDAP network that holds it
}

// Network is an RDAP IP network.
type Network struct {
	Handle  string   `json:"handle"`
	Name    string   `json:"name,omitempty"`
	Start   string   `json:"start,omitempty"`
	End     string   `json:"end,omitempty"`
	CIDRs   []string `json:"cidrs,omitempty"`
	Country string   `json:"country,omitempty"`
	Parent  string   `json:"parent,omitempty"`
	Source  Source   `json:"source"`
}

// Registrar is the registrar of the registrable domain.
type Registrar struct {
	Name   string   `json:"name,omitempty"`
	IANAID string   `json:"iana_id,omitempty"`
	Abuse  *Contact `json:"abuse,omitempty"`
	Source Source   `json:"source"`
}

// CDN marks a case fronted by a CDN or reverse proxy: the addresses belong
// to the CDN, and the origin hoster is still unknown.
type CDN struct {
	Name          string   `json:"name"`
	MatchedBy     string   `json:"matched_by"` // asn:13335 or cname:x.cdn.cloudflare.net
	Contact       *Contact `json:"contact,omitempty"`
	OriginUnknown bool     `json:"origin_unknown"`
}

// CountryDecision records how the hosting country was chosen.
type CountryDecision struct {
	Rule     string `json:"rule"` // geoip_first, rdap_first, agree
	GeoIP    string `json:"geoip,omitempty"`
	RDAP     string `json:"rdap,omitempty"`
	Country  string `json:"country,omitempty"`
	Disagree bool   `json:"disagree,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Enrichment is who hosts a URL, where, and whom to tell.
type Enrichment struct {
	At        time.Time       `json:"at"`
	Host      string          `json:"host"`
	IPLiteral bool            `json:"ip_literal,omitempty"`
	CNAMEs    []string        `json:"cnames,omitempty"`
	Addresses []AddressInfo   `json:"addresses,omitempty"`
	Networks  []Network       `json:"networks,omitempty"`
	Contacts  []Contact       `json:"contacts,omitempty"` // in order of preference
	Registrar *Registrar      `json:"registrar,omitempty"`
	CDN       *CDN            `json:"cdn,omitempty"`
	Country   CountryDecision `json:"country"`
	Problems  []string        `json:"problems,omitempty"`
	// EscalationPending: the enrichment holds what a first notice needs
	// (the hoster's abuse contact and the hosting country) and the levels
	// above it (the registrar and the site's owner, the parent network,
	// the origin AS) are still being looked up, by the case's escalate
	// work (WorkEscalate). Escalation reads them days later; a first
	// notice does not wait for the registrar's rate limit.
	EscalationPending bool `json:"escalation_pending,omitempty"`
}

// HostingCountry is the decided country, or "".
func (e *Enrichment) HostingCountry() string {
	if e == nil {
		return ""
	}
	return e.Country.Country
}
