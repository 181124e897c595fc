package notify

import (
	"strings"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Batching and "one incident, one report" meet here. An X-ARF report
// describes one URL, and the X-ARF e-mail transport carries one report per
// mail: its reference parser keeps the last JSON part of a mail and
// drops the others. A contact whose intake reads X-ARF therefore gets one
// mail per URL, each a notice of its own with its own reference (so its
// Message-ID, Reply-To plus address, VERP sender and subject tag name that
// URL alone), sent without waiting for the batching window, since there
// is nothing to gather. Everyone else keeps the batched notice, one per
// contact and window, which people read more easily than a hundred mails.

// formatFor is the Format of rec for its recipient: the X-ARF transport
// shape when the recipient is a contact that asks for machine-readable
// mail (a contact-book entry with machine_readable), or a contact RDAP
// gave while notify.xarf.default is per_url; else the batched notice.
// Forwards to partner hotlines and mail to the authority stay batched:
// they are read by people, and the partner payload carries the reports.
func (s *Stage) formatFor(rec takedown.Notice, contacts []takedown.Contact) string {
	if rec.Channel != "email" || rec.Level == string(notice.LevelPartner) || rec.Level == string(notice.LevelAuthority) {
		return ""
	}
	for _, ct := range contacts {
		if !strings.EqualFold(ct.Email, rec.To) {
			continue
		}
		if ct.MachineReadable || fromRDAP(ct) && s.cfg.XARF.Default == config.XARFPerURL {
			return takedown.NoticeFormatXARF
		}
		return ""
	}
	return ""
}

// fromRDAP reports whether the contact was found in RDAP rather than
// chosen by a person (the contact book, the CDN list): only those follow
// notify.xarf.default, the others say for themselves.
func fromRDAP(ct takedown.Contact) bool {
	return strings.HasPrefix(ct.Source.Kind, "rdap")
}

// ownNotice reports whether a case gets a notice of its own instead of
// joining its recipient's batch: a high-priority case skips the window,
// and an X-ARF mail carries one URL.
func ownNotice(tmpl takedown.Notice, high bool) bool {
	return high || tmpl.Format == takedown.NoticeFormatXARF
}

// caseContacts are every contact the case knows, for finding the one a
// follow-up goes to: its routing's, its enrichment's and its registrar's.
func caseContacts(c takedown.Case) []takedown.Contact {
	var out []takedown.Contact
	if c.Routing != nil {
		out = append(out, c.Routing.Contacts...)
	}
	if e := c.Enrichment; e != nil {
		out = append(out, e.Contacts...)
		if e.Registrar != nil && e.Registrar.Abuse != nil {
			out = append(out, *e.Registrar.Abuse)
		}
	}
	return out
}
