package notice

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// XARFVersion is the X-ARF schema version the reports claim.
const XARFVersion = "4.2.0"

// XARFContact is the reporter and sender object of an X-ARF report.
type XARFContact struct {
	Org     string `json:"org"`
	Contact string `json:"contact"`
	Domain  string `json:"domain"`
}

// XARFHashes holds the hash_values of a csam report.
type XARFHashes struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// XARFDNS holds the addresses the URL's host resolved to.
type XARFDNS struct {
	A    []string `json:"a,omitempty"`
	AAAA []string `json:"aaaa,omitempty"`
}

// XARF is one X-ARF v4 content/csam report: references and hashes of one
// URL, never the material. Fields after Tags are our own extensions, which
// the schema allows.
type XARF struct {
	Version            string      `json:"xarf_version"`
	ReportID           string      `json:"report_id"`
	Timestamp          string      `json:"timestamp"`
	Reporter           XARFContact `json:"reporter"`
	Sender             XARFContact `json:"sender"`
	SourceIdentifier   string      `json:"source_identifier"`
	Category           string      `json:"category"`
	Type               string      `json:"type"`
	URL                string      `json:"url"`
	Domain             string      `json:"domain,omitempty"`
	DNSRecords         *XARFDNS    `json:"dns_records,omitempty"`
	Classification     string      `json:"classification"`
	DetectionMethod    string      `json:"detection_method"`
	MediaType          string      `json:"media_type,omitempty"`
	HashValues         *XARFHashes `json:"hash_values,omitempty"`
	VerifiedAt         string      `json:"verified_at"`
	VerificationMethod string      `json:"verification_method"`
	ContentRemoved     bool        `json:"content_removed"`
	Description        string      `json:"description,omitempty"`
	Tags               []string    `json:"tags,omitempty"`
	TakedownRef        string      `json:"takedown_reference"`
	CaseID             string      `json:"case_id,omitempty"`
	ReportIDs          []string    `json:"report_ids,omitempty"`
}

// domainPattern is the schema's pattern for "domain"; hosts that do not fit
// it (IP literals, punycode labels with "--") leave the optional field out.
var domainPattern = regexp.MustCompile(`^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$`)

// XARFReports builds one report per item of n, in item order.
func XARFReports(n Notice) []XARF {
	me := XARFContact{Org: n.Hotline.Name, Contact: n.From, Domain: addressDomain(n.From)}
	out := make([]XARF, 0, len(n.Items))
	for i, it := range n.Items {
		x := XARF{
			Version:            XARFVersion,
			ReportID:           reportUUID(n.Ref, i, it.URL),
			Timestamp:          it.ConfirmedAt.UTC().Format(time.RFC3339),
			Reporter:           me,
			Sender:             me,
			Category:           "content",
			Type:               "csam",
			URL:                it.URL,
			Classification:     it.Classification,
			DetectionMethod:    "manual_review",
			MediaType:          it.MediaType,
			VerifiedAt:         it.ConfirmedAt.UTC().Format(time.RFC3339),
			VerificationMethod: "manual",
			Description:        fmt.Sprintf("Confirmed as child sexual abuse material by analysts of %s. Notice reference %s.", n.Hotline.Name, n.Ref),
			Tags:               []string{"takedown:" + strings.ToLower(n.Ref), "notice:" + string(n.Kind), "classification:" + strings.ToLower(it.Classification)},
			TakedownRef:        n.Ref,
			CaseID:             it.CaseID,
			ReportIDs:          it.ReportIDs,
		}
		host := ""
		if u, err := url.Parse(it.URL); err == nil {
			host = strings.ToLower(u.Hostname())
		}
		if domainPattern.MatchString(host) {
			x.Domain = host
		}
		x.SourceIdentifier = host
		if len(it.IPs) > 0 {
			x.SourceIdentifier = it.IPs[0]
			x.DNSRecords = dnsRecords(it.IPs)
		}
		if it.Hashes != (Hashes{}) {
			x.HashValues = &XARFHashes{MD5: it.Hashes.MD5, SHA1: it.Hashes.SHA1, SHA256: it.Hashes.SHA256}
		}
		out = append(out, x)
	}
	return out
}

func dnsRecords(ips []string) *XARFDNS {
	var d XARFDNS
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			continue
		case a.Is4() || a.Is4In6():
			d.A = append(d.A, a.Unmap().String())
		default:
			d.AAAA = append(d.AAAA, a.String())
		}
	}
	if d.A == nil && d.AAAA == nil {
		return nil
	}
	return &d
}

// reportUUID derives a name-based (version 5 layout) UUID from the notice
// reference and the item, so a resend carries the same report ids.
func reportUUID(ref string, i int, rawURL string) string {
	h := sha1.Sum([]byte(fmt.Sprintf("takedownd/xarf/%s/%d/%s", ref, i, rawURL)))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// MarshalXARF returns the indented JSON of each report of n.
func MarshalXARF(n Notice) ([][]byte, error) {
	reports := XARFReports(n)
	out := make([][]byte, 0, len(reports))
	for _, x := range reports {
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode xarf: %w", err)
		}
		out = append(out, append(b, '\n'))
	}
	return out, nil
}
