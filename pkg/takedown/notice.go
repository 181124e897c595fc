package takedown

import (
	"slices"
	"strings"
	"time"
)

// NoticeState is where a notice or forward stands. A notice is recorded
// before it is sent (the intent), so a crash between sending and
// recording resends the same message, with the same Message-ID, instead of
// sending a second, different one.
type NoticeState string

// The states of a notice.
const (
	NoticeOpen    NoticeState = "open"    // collecting URLs in its batching window
	NoticeSealing NoticeState = "sealing" // closed to new URLs; its cases are being recorded
	NoticeSending NoticeState = "sending" // sealed: items fixed, being delivered
	NoticeSent    NoticeState = "sent"
	NoticeFailed  NoticeState = "failed"
	NoticeDropped NoticeState = "dropped" // every URL closed or moved before sending
)

// Done reports whether the notice has its final outcome (the reconciler
// asks: a notice not done must have its flush pending).
func (s NoticeState) Done() bool {
	return s == NoticeSent || s == NoticeFailed || s == NoticeDropped
}

// The kinds and levels of notice that the rules below tell apart. They are
// the words package notice renders (notice.KindFirst, notice.LevelPartner).
const (
	NoticeKindFirst    = "first"
	NoticeKindForward  = "forward"
	NoticeLevelPartner = "partner"
)

// NoticeFormatXARF is the Format of a notice sent in the X-ARF e-mail
// transport shape (multipart/report, one URL); the empty Format is the
// batched notice. It is fixed when the notice is opened, so a resend
// renders the same message whatever the configuration says by then.
const NoticeFormatXARF = "xarf"

// Notice is a notice or forward as kept in the notices bucket: who, which
// channel, which URLs, and what became of it. The notify stage writes it;
// inbound reads it to match replies and bounces; GET /v1/notices/{ref}
// shows it. The JSON names are the stored form and do not change.
type Notice struct {
	Ref        string       `json:"ref"`
	Kind       string       `json:"kind"`  // first, reminder, escalation, reappeared, forward
	Level      string       `json:"level"` // hoster, cdn, upstream, registrar, authority, partner
	Channel    string       `json:"channel"`
	To         string       `json:"to"` // e-mail address, webhook URL or NATS subject
	Partner    string       `json:"partner,omitempty"`
	Lang       string       `json:"lang"`
	Format     string       `json:"format,omitempty"` // "" batched notice, "xarf" one URL in the X-ARF transport shape
	State      NoticeState  `json:"state"`
	Priority   bool         `json:"priority,omitempty"`
	OpenedAt   time.Time    `json:"opened_at"`
	DueAt      time.Time    `json:"due_at"`
	SentAt     time.Time    `json:"sent_at,omitzero"`
	DeadlineAt time.Time    `json:"deadline_at,omitzero"`
	Cases      []string     `json:"cases"`
	Items      []NoticeItem `json:"items,omitempty"` // fixed when sealed
	Dropped    []string     `json:"dropped,omitempty"`
	MessageID  string       `json:"message_id,omitempty"`
	Attempts   int          `json:"attempts,omitempty"`
	Outcome    string       `json:"outcome,omitempty"`
	LastError  string       `json:"last_error,omitempty"`
	Reminder   int          `json:"reminder,omitempty"`
	PrevRef    string       `json:"prev_ref,omitempty"`
	DoneAt     time.Time    `json:"done_at,omitzero"`
}

// NoticeItem is one URL of a sealed notice.
type NoticeItem struct {
	CaseID         string    `json:"case_id"`
	URL            string    `json:"url"`
	IPs            []string  `json:"ips,omitempty"`
	ConfirmedAt    time.Time `json:"confirmed_at"`
	Classification string    `json:"classification"`
	MediaType      string    `json:"media_type,omitempty"`
	Hashes         Hashes    `json:"hashes,omitzero"`
	ReportIDs      []string  `json:"report_ids,omitempty"`
	FirstNoticedAt time.Time `json:"first_noticed_at,omitzero"`
	Reappeared     bool      `json:"reappeared,omitempty"`
}

// CaseIDs are the cases the notice names: once sealed, those of its items
// (what was sent); before that, its case list less the dropped ones.
func (n Notice) CaseIDs() []string {
	var ids []string
	for _, it := range n.Items {
		if !slices.Contains(ids, it.CaseID) {
			ids = append(ids, it.CaseID)
		}
	}
	if len(ids) > 0 {
		return ids
	}
	for _, id := range n.Cases {
		if !slices.Contains(n.Dropped, id) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// StillRoutedTo reports whether the case's current routing still names the
// notice's recipient: the partner of its country for a forward, else the
// first of its contacts that is not failing. A case re-routed meanwhile,
// or whose contact failed, is no longer the notice's to tell.
func (n Notice) StillRoutedTo(c Case) bool {
	r := c.Routing
	if r == nil {
		return false
	}
	if n.Level == NoticeLevelPartner {
		return r.Kind == RoutePartner && strings.EqualFold(r.Country, n.Partner)
	}
	for _, ct := range r.Contacts {
		if !containsFold(r.Failing, ct.Email) {
			return strings.EqualFold(ct.Email, n.To)
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
