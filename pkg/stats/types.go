package stats

import "time"

// The response shapes of GET /v1/stats and GET /v1/hosters. Times are
// RFC 3339; durations are seconds as numbers (with the fraction the
// recorded times have); a figure that has nothing to be computed from (a
// percentile of no values, a share of nothing) is null, never 0.

// Stats is the answer of GET /v1/stats: the figures of the cases the
// filter selects, as of GeneratedAt.
type Stats struct {
	// Filter echoes what was asked, scope included.
	Filter FilterView `json:"filter"`
	// GeneratedAt is the time the figures were computed at: open cases
	// are counted as they stood then.
	GeneratedAt time.Time `json:"generated_at"`
	// Cases is how many cases the filter selects; Open how many of them
	// are not closed.
	Cases int `json:"cases"`
	Open  int `json:"open"`
	// ByState counts the cases by their current state, every state
	// listed; ByRoute by where routing sent them ("unrouted": not yet).
	ByState map[string]int `json:"by_state"`
	ByRoute map[string]int `json:"by_route"`
	// Hosting is where the material was hosted.
	Hosting Hosting `json:"hosting"`
	// ToFirstNotice is the time from confirmation to the first notice or
	// forward that went out, over the cases that had one.
	ToFirstNotice Durations `json:"to_first_notice"`
	// ToRemoval is the time from confirmation to the first confirmed
	// removal, over the removed cases (open cases not yet removed are not
	// in it: see Pending).
	ToRemoval Durations `json:"to_removal"`
	// NoticeToRemoval is the time from the first notice to the first
	// confirmed removal: the part the hoster (or partner) controls.
	NoticeToRemoval Durations `json:"notice_to_removal"`
	// RemovedWithin is the share of the noticed cases whose material was
	// removed within 1 h, 12 h, 24 h, 72 h and 7 d of confirmation.
	RemovedWithin []Within `json:"removed_within"`
	// Pending is how many noticed cases are open and not removed yet.
	Pending int `json:"pending"`
	// Reappearances is how often material came back after a confirmed
	// removal (a case reopened twice counts twice); CasesReappeared how
	// many cases it happened to.
	Reappearances   int `json:"reappearances"`
	CasesReappeared int `json:"cases_reappeared"`
	// DistinctURLs is how many different URLs the cases are of, and
	// RepeatedURLs how many cases are of a URL an earlier selected case
	// was of (reported again after its case closed). Anonymised cases
	// join by their URL's keyed hash.
	DistinctURLs int `json:"distinct_urls"`
	RepeatedURLs int `json:"repeated_urls"`
	// Reminders and Escalations are the reminders and escalations sent;
	// FailedNotices the notices that failed or bounced.
	Reminders     int `json:"reminders"`
	Escalations   int `json:"escalations"`
	FailedNotices int `json:"failed_notices"`
	// Anonymised is how many of the cases retention has anonymised.
	Anonymised int `json:"anonymised"`
}

// Hosting says where the selected cases were hosted.
type Hosting struct {
	// Known is how many cases have a hosting country; Domestic how many
	// of those are hosted in the hotline's own country (HotlineCountry).
	HotlineCountry string `json:"hotline_country"`
	Known          int    `json:"known"`
	Domestic       int    `json:"domestic"`
	// DomesticShare is Domestic / Known.
	DomesticShare *float64 `json:"domestic_share"`
	// ByCountry counts the cases by hosting country ("" is unknown).
	ByCountry map[string]int `json:"by_country"`
}

// Durations are the percentiles of a set of durations, in seconds. A
// percentile p is the nearest rank: the smallest value that at least p %
// of the values do not exceed (exact: computed over every value).
type Durations struct {
	Count int      `json:"count"`
	P50   *float64 `json:"p50_seconds"`
	P90   *float64 `json:"p90_seconds"`
	P99   *float64 `json:"p99_seconds"`
}

// Within is the share of cases removed within a window of their
// confirmation. Of counts the noticed cases (those with a first notice
// or a removal) whose outcome for the window is known: removed (at any
// time), closed, or confirmed at least Window ago; a case confirmed 2 h
// ago and still online is not yet a failure of the 24 h window.
type Within struct {
	Window  string   `json:"window"` // 1h, 12h, 24h, 72h, 7d
	Seconds int64    `json:"seconds"`
	Removed int      `json:"removed"`
	Of      int      `json:"of"`
	Share   *float64 `json:"share"`
}

// FilterView is a filter as the answer echoes it.
type FilterView struct {
	// Basis names the time from and to select on: "confirmed_at".
	Basis   string     `json:"basis"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Country string     `json:"country,omitempty"`
	Hoster  string     `json:"hoster,omitempty"`
	Route   string     `json:"route,omitempty"`
	// Scoped is set when the token sees only part of the cases (a
	// partner hotline's, a hoster's): the figures are of those.
	Scoped bool `json:"scoped,omitempty"`
}

// HosterList is the answer of GET /v1/hosters: one page of hosters in the
// order asked for.
type HosterList struct {
	Filter FilterView `json:"filter"`
	// Sort and Order say how the list is ordered; hosters without the
	// figure sorted on (no removal yet) come last either way.
	Sort        string    `json:"sort"`
	Order       string    `json:"order"`
	GeneratedAt time.Time `json:"generated_at"`
	// Total is how many hosters the filter selects; Offset where this
	// page starts.
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Hosters []Hoster `json:"hosters"`
}

// Hoster is what the cases say about one hoster (GET /v1/hosters/{hoster}
// and each item of the list). ID is the hoster key (HosterKey): the
// registrable domain of its abuse address, "AS<n>" when none is known.
type Hoster struct {
	ID string `json:"id"`
	// ASNs, ASNames and Networks are the autonomous systems and RDAP
	// network handles its cases were hosted on; Contacts its abuse
	// addresses as enrichment found them (only on a case not anonymised).
	ASNs     []uint32 `json:"asns"`
	ASNames  []string `json:"as_names,omitempty"`
	Networks []string `json:"networks"`
	Contacts []string `json:"contacts,omitempty"`
	// Cases, Open and Removed count its cases (removed: a removal was
	// confirmed, whatever the state now).
	Cases   int `json:"cases"`
	Open    int `json:"open"`
	Removed int `json:"removed"`
	// NoticeToRemoval is the time from the first notice to the first
	// confirmed removal of its removed cases; P50RemovalSeconds and
	// P90RemovalSeconds repeat its median and p90 (the sort keys).
	NoticeToRemoval   Durations `json:"notice_to_removal"`
	P50RemovalSeconds *float64  `json:"p50_removal_seconds"`
	P90RemovalSeconds *float64  `json:"p90_removal_seconds"`
	// RemovedWithin24h is the share of its noticed cases removed within
	// 24 h of the first notice (counted as Within is).
	RemovedWithin24h Within `json:"removed_within_24h"`
	// Reminders and Escalations were needed (sent) for its cases;
	// Reappearances is how often its material came back.
	Reminders     int `json:"reminders"`
	Escalations   int `json:"escalations"`
	Reappearances int `json:"reappearances"`
	// FailedNotices are notices to it that failed or bounced;
	// BouncedContacts how many distinct addresses of its cases failed,
	// listed in BouncedAddresses where they are still known.
	FailedNotices    int      `json:"failed_notices"`
	BouncedContacts  int      `json:"bounced_contacts"`
	BouncedAddresses []string `json:"bounced_addresses,omitempty"`
}
