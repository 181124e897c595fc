package inbound

import (
	"regexp"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/verp"
)

// refRE is the shape of a notice reference: TD-20261126-7F3K2Q for a first
// notice, TD-<case id>-R1 for a follow-up. It also bounds what reaches a
// KV key.
var refRE = regexp.MustCompile(`(?i)\bTD-[0-9A-Z]{6,26}-[0-9A-Z]{1,26}\b`)

// ValidRef reports whether s has the shape of a notice reference.
func ValidRef(s string) bool {
	m := refRE.FindString(s)
	return m != "" && len(m) == len(s)
}

// candidate is a reference found in a message, with where it was found.
type candidate struct {
	Ref string
	By  string // verp, recipient, in-reply-to, references, subject, x-takedown-ref, original
}

// candidates lists the references a reply may belong to, most reliable
// first: a VERP envelope sender whose tag verifies (only the daemon can
// make one), the plus part of the address it was sent to (our Reply-To), the
// Message-IDs it answers (<REF@domain>), a [REF] in the subject, then an
// X-Takedown-Ref header a ticket system copied. Bounces add what the
// returned original carries.
func candidates(p parsed, domains []string, signer *verp.Signer) []candidate {
	var out []candidate
	add := func(ref, by string) {
		ref = strings.ToUpper(ref)
		if ValidRef(ref) && !slices.ContainsFunc(out, func(c candidate) bool { return c.Ref == ref }) {
			out = append(out, candidate{ref, by})
		}
	}
	if signer != nil {
		for _, rcpt := range p.Recipients {
			if ref, ok, _ := signer.Parse(rcpt); ok {
				add(ref, "verp")
			}
		}
	}
	for _, rcpt := range p.Recipients {
		local, domain, ok := strings.Cut(rcpt, "@")
		if !ok || !acceptedDomain(domain, domains) {
			continue
		}
		if i := strings.LastIndexByte(local, '+'); i >= 0 {
			add(local[i+1:], "recipient")
		}
	}
	if h := p.originalHeader(); h != nil {
		add(strings.TrimSpace(h.Get("X-Takedown-Ref")), "original")
		add(refOfMsgID(msgID(h.Get("Message-Id"))), "original")
		add(refRE.FindString(h.Get("Subject")), "original")
	}
	for _, id := range p.InReplyTo {
		add(refOfMsgID(id), "in-reply-to")
	}
	// References lists the thread oldest first; the newest notice is the
	// one being answered.
	for _, id := range slices.Backward(p.References) {
		add(refOfMsgID(id), "references")
	}
	for _, m := range subjectRefRE.FindAllStringSubmatch(p.Subject, 4) {
		add(m[1], "subject")
	}
	add(p.XRef, "x-takedown-ref")
	if p.Bounce != nil {
		// The returned original may be quoted in the text (a text
		// bounce, or a report whose original part is broken): its
		// Message-ID or X-Takedown-Ref.
		for _, m := range bodyRefRE.FindAllStringSubmatch(p.Text, 8) {
			add(m[1]+m[2], "original")
		}
	}
	return out
}

var (
	subjectRefRE = regexp.MustCompile(`(?i)\[(TD-[0-9A-Z]{6,26}-[0-9A-Z]{1,26})\]`)
	bodyRefRE    = regexp.MustCompile(`(?i)(?:X-Takedown-Ref:\s*(TD-[0-9A-Z-]+)|<(TD-[0-9A-Z]{6,26}-[0-9A-Z]{1,26})@)`)
)

// forgedVERP returns the first recipient that has the shape of one of
// our VERP addresses but a tag that does not verify, "" if none.
func forgedVERP(p parsed, signer *verp.Signer) string {
	if signer == nil {
		return ""
	}
	for _, rcpt := range p.Recipients {
		if _, ok, isVERP := signer.Parse(rcpt); isVERP && !ok {
			return rcpt
		}
	}
	return ""
}

// refOfMsgID returns REF of a Message-ID REF@domain, or "".
func refOfMsgID(id string) string {
	local, _, ok := strings.Cut(id, "@")
	if !ok {
		return ""
	}
	return local
}

func acceptedDomain(domain string, domains []string) bool {
	return slices.ContainsFunc(domains, func(d string) bool { return strings.EqualFold(d, domain) })
}

// maxExcerpt is how much of a reply's own text an event keeps.
const maxExcerpt = 500

// excerpt is the start of a reply's own words: quoted lines, the quoted
// notice below an "On … wrote:" or Outlook "From:" block, and the
// signature are cut, whitespace is collapsed, and the rest is bounded.
func excerpt(text string) string {
	var kept []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if quoteStart(t) {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		kept = append(kept, t)
	}
	s := strings.Join(strings.Fields(strings.Join(kept, " ")), " ")
	if r := []rune(s); len(r) > maxExcerpt {
		s = string(r[:maxExcerpt]) + "…"
	}
	return s
}

// quoteStart reports whether a line begins the quoted original or the
// signature.
func quoteStart(t string) bool {
	switch {
	case t == "--", t == "-- ":
		return true
	case strings.HasPrefix(t, "-----") && strings.Contains(strings.ToLower(t), "original"),
		strings.HasPrefix(t, "-----") && strings.Contains(strings.ToLower(t), "oorspronkelijk"),
		strings.HasPrefix(t, "________________________________"):
		return true
	}
	l := strings.ToLower(t)
	for _, w := range []string{"wrote", "schreef", "schrieb", "a écrit", "escribió"} {
		// "On … X <x@y> wrote:" and Dutch Gmail's "Op … schreef X <x@y>:".
		// A hoster's own "we wrote to the customer:" carries no address.
		if strings.HasSuffix(l, ":") && strings.Contains(l, w) && strings.Contains(l, "@") {
			return true
		}
	}
	return strings.HasPrefix(l, "from:") && strings.Contains(l, "@") || strings.HasPrefix(l, "van:") && strings.Contains(l, "@")
}
