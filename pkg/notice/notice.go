// Package notice renders takedown notices: the Dutch and English text from
// templates a hotline can override, one X-ARF v4 content/csam report per URL,
// and the MIME message that carries both — either the batched notice
// (multipart/mixed, several URLs) or the X-ARF e-mail transport shape
// (multipart/report, one URL) that automated abuse desks parse. It is pure:
// apart from reading template files it does no I/O, and the same Notice
// always renders to the same bytes, so a resend after a crash is the same
// message.
package notice

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Kind says why a notice is sent; the wording differs per kind.
type Kind string

// The kinds of notice.
const (
	KindFirst      Kind = "first"
	KindReminder   Kind = "reminder"
	KindEscalation Kind = "escalation"
	KindReappeared Kind = "reappeared"
	KindForward    Kind = "forward"
)

// Format is the MIME shape of a rendered notice.
type Format string

// The formats of a notice.
const (
	// FormatBatched is the notice for people: multipart/mixed with the
	// text and one xarf-N.json attachment per URL. It is deliberately not
	// a multipart/report: an X-ARF transport parser reads one JSON report
	// per mail, so it would take one URL of many and lose the rest.
	FormatBatched Format = ""
	// FormatXARF is the X-ARF e-mail transport: multipart/report;
	// report-type=feedback-report with the text, a message/feedback-report
	// part (Feedback-Type: xarf) and the one URL's report as xarf.json.
	FormatXARF Format = "xarf"
)

// Level says which party in the chain a notice addresses.
type Level string

// The parties a notice can address, from nearest to the material outward.
const (
	LevelHoster    Level = "hoster"
	LevelCDN       Level = "cdn"
	LevelUpstream  Level = "upstream"
	LevelRegistrar Level = "registrar"
	LevelAuthority Level = "authority"
	LevelPartner   Level = "partner"
)

// Hotline describes the organisation that sends notices.
type Hotline struct {
	Name string
	// Country is the ISO 3166-1 alpha-2 code of the hotline's country.
	Country string
	// CountryNames names the country per language ("nl": "Nederland",
	// "en": "the Netherlands") so each text reads naturally.
	CountryNames map[string]string
	Website      string
	Phone        string
}

// CountryIn returns the country's name in lang, else its English name, else its code.
func (h Hotline) CountryIn(lang string) string {
	if name := h.CountryNames[lang]; name != "" {
		return name
	}
	if name := h.CountryNames["en"]; name != "" {
		return name
	}
	return h.Country
}

// Hashes holds hex digests of the confirmed content; any may be empty.
type Hashes struct {
	MD5    string
	SHA1   string
	SHA256 string
}

// Item is one confirmed URL in a notice. It carries references and hashes
// only: a notice never holds the material itself.
type Item struct {
	CaseID         string
	URL            string
	IPs            []string
	ConfirmedAt    time.Time
	Classification string // baseline, A1, A2, B1 or B2
	MediaType      string // image, video, audio, text, mixed or empty
	Hashes         Hashes
	ReportIDs      []string
	FirstNoticedAt time.Time // when the recipient was first told; set on reminders
	Reappeared     bool      // the material was removed once and came back
}

// Notice is everything needed to render one message to one party.
type Notice struct {
	Ref        string // stable reference, e.g. TD-2026-11-26-7F3K2Q
	Kind       Kind
	Lang       string // "nl" gives a Dutch text followed by the English one; anything else English only
	Format     Format // FormatXARF needs exactly one item
	Level      Level
	From       string // bare address, e.g. abuse@hotline.example
	ReplyTo    string // bare address; empty derives one from From and Ref
	To         []string
	Hotline    Hotline
	Deadline   time.Duration // asked removal time; used when DeadlineAt is zero
	DeadlineAt time.Time
	SentAt     time.Time // fixed when the intent to send is recorded, so a resend has the same Date
	Reminder   int       // how many notices about these URLs went before this one
	PrevRef    string    // reference of the first notice, on reminders and escalations
	Items      []Item
}

// DeadlineTime returns when removal is asked for: DeadlineAt, or SentAt plus Deadline.
func (n Notice) DeadlineTime() time.Time {
	if !n.DeadlineAt.IsZero() {
		return n.DeadlineAt
	}
	return n.SentAt.Add(n.Deadline)
}

var validKinds = map[Kind]bool{KindFirst: true, KindReminder: true, KindEscalation: true, KindReappeared: true, KindForward: true}

var validLevels = map[Level]bool{LevelHoster: true, LevelCDN: true, LevelUpstream: true, LevelRegistrar: true, LevelAuthority: true, LevelPartner: true}

var validClassifications = map[string]bool{"baseline": true, "A1": true, "A2": true, "B1": true, "B2": true}

// Validate reports everything that would make the notice unsendable or its
// X-ARF parts invalid, joined into one error.
func (n Notice) Validate() error {
	var errs []error
	if !validRef(n.Ref) {
		errs = append(errs, fmt.Errorf("ref %q: want letters, digits and dashes", n.Ref))
	}
	if !validKinds[n.Kind] {
		errs = append(errs, fmt.Errorf("kind %q unknown", n.Kind))
	}
	if !validLevels[n.Level] {
		errs = append(errs, fmt.Errorf("level %q unknown", n.Level))
	}
	if _, err := bareAddress(n.From); err != nil {
		errs = append(errs, fmt.Errorf("from: %w", err))
	}
	if n.ReplyTo != "" {
		if _, err := bareAddress(n.ReplyTo); err != nil {
			errs = append(errs, fmt.Errorf("reply-to: %w", err))
		}
	}
	if len(n.To) == 0 {
		errs = append(errs, errors.New("to: no recipient"))
	}
	for _, to := range n.To {
		if _, err := bareAddress(to); err != nil {
			errs = append(errs, fmt.Errorf("to: %w", err))
		}
	}
	if n.Hotline.Name == "" {
		errs = append(errs, errors.New("hotline name empty"))
	}
	if n.SentAt.IsZero() {
		errs = append(errs, errors.New("sent_at zero"))
	}
	if len(n.Items) == 0 {
		errs = append(errs, errors.New("no items"))
	}
	switch n.Format {
	case FormatBatched:
	case FormatXARF:
		if len(n.Items) > 1 {
			errs = append(errs, fmt.Errorf("format xarf: %d items, want one (an X-ARF mail carries one report)", len(n.Items)))
		}
	default:
		errs = append(errs, fmt.Errorf("format %q unknown", n.Format))
	}
	for i, it := range n.Items {
		if it.URL == "" {
			errs = append(errs, fmt.Errorf("item %d: url empty", i+1))
		}
		if !validClassifications[it.Classification] {
			errs = append(errs, fmt.Errorf("item %d: classification %q unknown", i+1, it.Classification))
		}
		if it.ConfirmedAt.IsZero() {
			errs = append(errs, fmt.Errorf("item %d: confirmed_at zero", i+1))
		}
	}
	return errors.Join(errs...)
}

// validRef keeps references safe inside a Message-ID, an address local part,
// a file name and an X-ARF tag.
func validRef(ref string) bool {
	if ref == "" || len(ref) > 64 {
		return false
	}
	for _, r := range ref {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// bareAddress checks that s is a plain addr-spec without a display name.
func bareAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("parse address %q: %w", s, err)
	}
	if a.Name != "" || a.Address != s {
		return "", fmt.Errorf("parse address %q: want a bare address", s)
	}
	return a.Address, nil
}

// ReplyAddress returns the Reply-To of the notice: ReplyTo when set; else,
// with plus addressing, From with "+Ref" added to the local part, so a reply
// finds its notice even when the subject was rewritten; else From.
func (n Notice) ReplyAddress(plus bool) string {
	if n.ReplyTo != "" {
		return n.ReplyTo
	}
	if !plus {
		return n.From
	}
	local, domain, ok := strings.Cut(n.From, "@")
	if !ok {
		return n.From
	}
	return local + "+" + n.Ref + "@" + domain
}

func addressDomain(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return domain
}
