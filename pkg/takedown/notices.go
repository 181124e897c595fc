package takedown

import "time"

// Route kinds: where the routing policy sent a case.
const (
	RouteHoster  = "hoster"  // notice to the hoster's abuse contact
	RoutePartner = "partner" // forward to the partner hotline of the hosting country
	RouteCDN     = "cdn"     // notice to the CDN, asking for the origin
	RouteReview  = "review"  // a person must decide
	RouteNone    = "none"    // not actionable by notice
)

// Routing is the routing decision for a case.
type Routing struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Reason   string    `json:"reason"`
	Country  string    `json:"country,omitempty"`
	Lang     string    `json:"lang,omitempty"`
	Contacts []Contact `json:"contacts,omitempty"` // in order; the first not failing is used
	Partner  string    `json:"partner,omitempty"`  // partner hotline name
	Channel  string    `json:"channel,omitempty"`  // email, webhook, nats
	Failing  []string  `json:"failing,omitempty"`  // contacts that answered 5xx
}

// NoticeRef is what a case keeps of each notice or forward that named it.
type NoticeRef struct {
	Ref     string `json:"ref"`
	Kind    string `json:"kind"` // first, reminder, escalation, reappeared, forward
	Level   string `json:"level,omitempty"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	// Partner is the country of the partner hotline a forward went to.
	Partner   string    `json:"partner,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
}

// CheckState is the re-check bookkeeping of a case.
type CheckState struct {
	// WatchedSince is when re-checks began (the first notice or forward
	// went out, or the first check ran): from then on the case is checked
	// in every open state until it closes (Case.Watched).
	WatchedSince  time.Time `json:"watched_since,omitzero"`
	LastCheckedAt time.Time `json:"last_checked_at,omitzero"`
	LastVerdict   string    `json:"last_verdict,omitempty"`
	LastOnlineAt  time.Time `json:"last_online_at,omitzero"`
	GoneStreak    int       `json:"gone_streak,omitempty"`
	GoneSince     time.Time `json:"gone_since,omitzero"`
	RemovedAt     time.Time `json:"removed_at,omitzero"`
	// FirstRemovedAt is the first confirmed removal: RemovedAt moves to
	// the latest when the material came back and was removed again, and
	// the time a hoster took to act is the first one.
	FirstRemovedAt time.Time `json:"first_removed_at,omitzero"`
	NextCheckAt    time.Time `json:"next_check_at,omitzero"`
	Checks         int       `json:"checks"`
	Reminders      int       `json:"reminders,omitempty"`
	EscalationLvl  int       `json:"escalation_level,omitempty"`
	Reopened       int       `json:"reopened,omitempty"`
}

// NotifyRequest asks the notify stage for a notice beyond the first: a
// reminder, an escalation up the chain, or a notice that the material
// reappeared. Re-checks publish it as the payload of notify work.
type NotifyRequest struct {
	Kind     string `json:"kind"`            // reminder, escalation, reappeared
	Level    string `json:"level,omitempty"` // hoster, upstream, registrar, authority
	Reminder int    `json:"reminder,omitempty"`
}
