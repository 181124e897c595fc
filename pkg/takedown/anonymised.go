package takedown

import "time"

// Anonymised is what a case keeps, once retention anonymised it, of what
// was dropped: the keys the statistics join on, none of which points at
// the material or names a person. The URL is gone, replaced by a keyed
// hash (the same URL always gives the same hash under the same secret, so
// a URL that comes back is still counted as coming back); the contacts
// are gone, and with them the addresses notices went to, of which only
// the domain after the @ is kept. What the enrichment found about the
// hosting (countries, ASes, network handles) stays on the enrichment,
// without addresses or contacts.
type Anonymised struct {
	At time.Time `json:"at"`
	// URLHash is the hex HMAC-SHA256 of the normalised URL under the
	// retention secret.
	URLHash string `json:"url_hash"`
	// Hoster is the hoster key the case is counted under in the
	// statistics, fixed when its contacts were dropped.
	Hoster string `json:"hoster,omitempty"`
	// Audiences are the case's audience keys (Case.Audiences) as they
	// were, less the addresses of forwards: the partner hotlines and the
	// hosters' domains and ASes that were told about it, so that they
	// still see it in their statistics.
	Audiences []string `json:"audiences,omitempty"`
	// FailingContacts are keyed hashes of the addresses that failed
	// (bounced or refused), so a hoster's count of bounced contacts stays
	// right without the addresses.
	FailingContacts []string `json:"failing_contacts,omitempty"`
	// Events is how many events of the timeline were replaced by redacted
	// copies; TimelineRedacted is set once all of them were (until then
	// retention comes back to the case).
	Events           int  `json:"events"`
	TimelineRedacted bool `json:"timeline_redacted"`
}

// Redaction is set on the copy of an event that retention wrote in place
// of the original when it anonymised the case. The copy keeps the
// original's id, type, time, actor and states, and those fields of its
// data that name no URL, address or person; the original is erased from
// the events stream. Digest lets whoever holds the retention secret and a
// copy of the original (an export made under a legal hold, say) show that
// this copy stands for that original and no other.
type Redaction struct {
	// Seq is the original's sequence in the events stream: every gap the
	// erasure left on the case's subject is named by one copy.
	Seq uint64 `json:"seq"`
	// Digest is the hex HMAC-SHA256 of the original message's bytes
	// under the retention secret.
	Digest string    `json:"digest"`
	At     time.Time `json:"at"`
}
