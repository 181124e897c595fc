package takedown

import (
	"slices"
	"time"
)

// MaxReportsPerCase bounds how many reports a case lists in full. A URL
// reported thousands of times still has one case; beyond this only the
// count grows, so the case record stays small.
const MaxReportsPerCase = 100

// ReportRef is what a case keeps of each report that joined it.
type ReportRef struct {
	ReportID       string         `json:"report_id"`
	ReceivedAt     time.Time      `json:"received_at"`
	ConfirmedAt    time.Time      `json:"confirmed_at"`
	Classification Classification `json:"classification"`
	MediaType      string         `json:"media_type,omitempty"`
	Hashes         Hashes         `json:"hashes,omitzero"`
	Priority       Priority       `json:"priority,omitempty"`
	Analyst        string         `json:"analyst,omitempty"`
	Source         string         `json:"source,omitempty"`
	PartnerRef     string         `json:"partner_ref,omitempty"`
}

// RefOf returns the part of r a case keeps.
func RefOf(r Report, receivedAt time.Time) ReportRef {
	return ReportRef{
		ReportID: r.ReportID, ReceivedAt: receivedAt, ConfirmedAt: r.ConfirmedAt,
		Classification: r.Classification, MediaType: r.MediaType, Hashes: r.Hashes,
		Priority: r.Priority, Analyst: r.Analyst, Source: r.Source, PartnerRef: r.PartnerRef,
	}
}

// Case is everything takedownd knows about one URL while it is online. It
// lives in the cases KV bucket and changes only by compare-and-set.
type Case struct {
	ID string `json:"id"`
	// URL is the normalised URL; OriginalURL is the URL as first reported.
	URL         string `json:"url"`
	OriginalURL string `json:"original_url"`
	Host        string `json:"host"`
	Domain      string `json:"registrable_domain,omitempty"`

	State       State     `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	Priority       Priority       `json:"priority"`
	Classification Classification `json:"classification"`
	Hashes         Hashes         `json:"hashes,omitzero"`
	Reports        []ReportRef    `json:"reports"`
	ReportCount    int            `json:"report_count"`

	Enrichment *Enrichment `json:"enrichment,omitempty"`
	Routing    *Routing    `json:"routing,omitempty"`
	Notices    []NoticeRef `json:"notices,omitempty"`
	Checks     *CheckState `json:"checks,omitempty"`

	// What people decided through the API's actions (person.go).
	Pause         *Pause       `json:"pause,omitempty"`
	RouteTo       *RouteChoice `json:"route_to,omitempty"`
	AddedContacts []Contact    `json:"added_contacts,omitempty"`
	// Anonymised is set once retention replaced the URL and dropped the
	// addresses and contacts of the closed case (anonymised.go).
	Anonymised *Anonymised `json:"anonymised,omitempty"`
}

// HasReport reports whether the report with this id already joined c.
func (c *Case) HasReport(id string) bool {
	return slices.ContainsFunc(c.Reports, func(r ReportRef) bool { return r.ReportID == id })
}

// AddReport records a report on the case: the highest priority wins, the
// classification of the latest confirmation stands, hashes fill in.
func (c *Case) AddReport(ref ReportRef) {
	c.ReportCount++
	if len(c.Reports) < MaxReportsPerCase {
		c.Reports = append(c.Reports, ref)
	}
	if ref.Priority == PriorityHigh || c.Priority == "" {
		c.Priority = ref.Priority
	}
	c.Classification = ref.Classification
	if c.Hashes.MD5 == "" {
		c.Hashes.MD5 = ref.Hashes.MD5
	}
	if c.Hashes.SHA1 == "" {
		c.Hashes.SHA1 = ref.Hashes.SHA1
	}
	if c.Hashes.SHA256 == "" {
		c.Hashes.SHA256 = ref.Hashes.SHA256
	}
}

// FirstConfirmedAt is the earliest confirmation of the URL.
func (c *Case) FirstConfirmedAt() time.Time {
	var first time.Time
	for _, r := range c.Reports {
		if first.IsZero() || r.ConfirmedAt.Before(first) {
			first = r.ConfirmedAt
		}
	}
	return first
}

// MoveTo changes the state if the table allows it.
func (c *Case) MoveTo(next State, reason string, at time.Time) error {
	if !c.State.CanMoveTo(next) {
		return &TransitionError{From: c.State, To: next}
	}
	c.State, c.StateReason, c.UpdatedAt = next, reason, at
	return nil
}

// CheckCount is how many re-checks the case had.
func (c *Case) CheckCount() int {
	if c.Checks == nil {
		return 0
	}
	return c.Checks.Checks
}
