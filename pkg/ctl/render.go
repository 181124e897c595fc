package ctl

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// stamp prints a time in UTC, to the second; "-" when unknown.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// kv prints one "key  value" line of a detail view.
func kv(w io.Writer, key, format string, args ...any) {
	fmt.Fprintf(w, "%-15s%s\n", key, fmt.Sprintf(format, args...))
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func labelled(label, v string) string {
	if v == "" {
		return ""
	}
	return label + " " + v
}

// printCase renders a case for a person: the facts first, then what was
// found out, what was sent and finally the timeline.
func printCase(w io.Writer, v api.CaseView) {
	cs := v.Case
	kv(w, "Case", "%s", cs.ID)
	kv(w, "State", "%s", joinNonEmpty(" — ", string(cs.State), cs.StateReason))
	kv(w, "URL", "%s", cs.URL)
	if cs.OriginalURL != "" && cs.OriginalURL != cs.URL {
		kv(w, "Reported as", "%s", cs.OriginalURL)
	}
	kv(w, "Host", "%s", joinNonEmpty(", ", cs.Host, labelled("domain", cs.Domain)))
	kv(w, "Received", "%s", stamp(cs.ReceivedAt))
	kv(w, "Updated", "%s", stamp(cs.UpdatedAt))
	kv(w, "Priority", "%s", cs.Priority)
	kv(w, "Classification", "%s", cs.Classification)
	if !cs.Hashes.Empty() {
		kv(w, "Hashes", "%s", joinNonEmpty(", ", labelled("md5", cs.Hashes.MD5), labelled("sha1", cs.Hashes.SHA1), labelled("sha256", cs.Hashes.SHA256)))
	}
	kv(w, "Reports", "%d", cs.ReportCount)
	for _, r := range cs.Reports {
		fmt.Fprintf(w, "  %s\n", joinNonEmpty("  ", r.ReportID, "confirmed "+stamp(r.ConfirmedAt), string(r.Classification),
			string(r.Priority), labelled("analyst", r.Analyst), labelled("source", r.Source), labelled("partner_ref", r.PartnerRef)))
	}
	printEnrichment(w, cs.Enrichment)
	if rt := cs.Routing; rt != nil {
		kv(w, "Routing", "%s", joinNonEmpty(" — ", rt.Kind, rt.Reason))
		kv(w, "", "%s", joinNonEmpty(", ", labelled("country", rt.Country), labelled("lang", rt.Lang),
			labelled("partner", rt.Partner), labelled("channel", rt.Channel), "at "+stamp(rt.At)))
		for _, ct := range rt.Contacts {
			kv(w, "", "→ %s (%s)", ct.Email, ct.Role)
		}
	}
	if len(cs.Notices) > 0 {
		fmt.Fprintln(w, "Notices")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  REF\tKIND\tCHANNEL\tTO\tAT\tOUTCOME")
		for _, n := range cs.Notices {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", n.Ref, joinNonEmpty(" ", n.Kind, n.Level), n.Channel, n.To, stamp(n.At), n.Outcome)
		}
		_ = tw.Flush()
	}
	if ch := cs.Checks; ch != nil {
		kv(w, "Checks", "%d, last %s (%s), next %s", ch.Checks, stamp(ch.LastCheckedAt), orDefault(ch.LastVerdict, "-"), stamp(ch.NextCheckAt))
		if !ch.RemovedAt.IsZero() {
			kv(w, "", "removed %s", stamp(ch.RemovedAt))
		}
	}
	fmt.Fprintln(w, "Timeline")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ev := range v.Timeline {
		move := ""
		if ev.From != "" || ev.To != "" {
			move = fmt.Sprintf("%s→%s", ev.From, ev.To)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", stamp(ev.At), ev.Type, ev.Actor, move, ev.Reason)
	}
	_ = tw.Flush()
}

// printEnrichment summarises who hosts the URL and whom to tell.
func printEnrichment(w io.Writer, e *takedown.Enrichment) {
	if e == nil {
		return
	}
	kv(w, "Enrichment", "at %s", stamp(e.At))
	c := e.Country
	kv(w, "  Country", "%s", joinNonEmpty(", ", orDefault(c.Country, "unknown"), labelled("rule", c.Rule),
		labelled("geoip", c.GeoIP), labelled("rdap", c.RDAP), c.Note))
	if len(e.CNAMEs) > 0 {
		kv(w, "  CNAMEs", "%s", strings.Join(e.CNAMEs, " → "))
	}
	for _, a := range e.Addresses {
		asn := ""
		if a.ASN != 0 {
			asn = fmt.Sprintf("AS%d %s", a.ASN, a.ASName)
		}
		kv(w, "  Address", "%s", joinNonEmpty("  ", a.IP, a.Country, strings.TrimSpace(asn), labelled("net", a.Network)))
	}
	if cdn := e.CDN; cdn != nil {
		origin := ""
		if cdn.OriginUnknown {
			origin = "origin unknown"
		}
		kv(w, "  CDN", "%s", joinNonEmpty(", ", cdn.Name, cdn.MatchedBy, origin))
	}
	for _, ct := range e.Contacts {
		kv(w, "  Contact", "%s (%s, %s)", ct.Email, ct.Role, joinNonEmpty(" ", ct.Source.Kind, ct.Source.Handle))
	}
	if r := e.Registrar; r != nil {
		abuse := ""
		if r.Abuse != nil {
			abuse = "abuse " + r.Abuse.Email
		}
		kv(w, "  Registrar", "%s", joinNonEmpty(", ", r.Name, labelled("IANA", r.IANAID), abuse))
	}
	for _, p := range e.Problems {
		kv(w, "  Problem", "%s", p)
	}
}
