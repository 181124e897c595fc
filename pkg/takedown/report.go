package takedown

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxReportBytes is the default limit on the size of one report message.
// A confirmed report is a few hundred bytes; anything near this is not one.
const MaxReportBytes = 64 << 10

// Classification is the severity class of confirmed material, as in the
// X-ARF v4 csam type.
type Classification string

// The classifications of the report contract.
const (
	ClassBaseline Classification = "baseline"
	ClassA1       Classification = "A1"
	ClassA2       Classification = "A2"
	ClassB1       Classification = "B1"
	ClassB2       Classification = "B2"
)

// Priority tells whether a report may wait for a batching window.
type Priority string

// The priorities of the report contract.
const (
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
)

// Hashes are hex digests of the confirmed content; any may be empty.
type Hashes struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Empty reports whether no hash is known.
func (h Hashes) Empty() bool { return h.MD5 == "" && h.SHA1 == "" && h.SHA256 == "" }

// Report is version 1 of the message the analyst tool publishes for every
// URL an analyst confirmed as illegal.
type Report struct {
	ReportID       string         `json:"report_id"`
	URL            string         `json:"url"`
	ConfirmedAt    time.Time      `json:"confirmed_at"`
	Classification Classification `json:"classification"`
	MediaType      string         `json:"media_type,omitempty"`
	Hashes         Hashes         `json:"hashes,omitzero"`
	Priority       Priority       `json:"priority,omitempty"`
	Analyst        string         `json:"analyst,omitempty"`
	Source         string         `json:"source,omitempty"`
	PartnerRef     string         `json:"partner_ref,omitempty"`
	// Extra keeps fields this version does not know, so the analyst tool
	// can evolve without its reports being rejected.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// ReportError says why a report was rejected. Field names the offending
// field ("" when the message as a whole is wrong).
type ReportError struct {
	Field  string
	Reason string
}

func (e *ReportError) Error() string {
	if e.Field == "" {
		return "invalid report: " + e.Reason
	}
	return "invalid report: " + e.Field + ": " + e.Reason
}

// ReportErrors is every problem found in one report.
type ReportErrors []*ReportError

func (es ReportErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

var knownReportFields = map[string]bool{
	"report_id": true, "url": true, "confirmed_at": true, "classification": true,
	"media_type": true, "hashes": true, "priority": true, "analyst": true,
	"source": true, "partner_ref": true,
}

var hashLengths = map[string]int{"md5": 32, "sha1": 40, "sha256": 64}

// The bounds of confirmed_at. An analyst tool's clock may run a little
// ahead of ours, but not by a day; and nothing was confirmed before the
// hotlines existed. A time outside them is a bug in the sender (a zero
// value, a swapped field) that would sort the case wrongly and skew every
// removal time measured from it.
const (
	// MaxConfirmedAhead is how far after now confirmed_at may lie.
	MaxConfirmedAhead = 24 * time.Hour
	// EarliestConfirmedYear is the first year confirmed_at may lie in.
	EarliestConfirmedYear = 1990
)

// DecodeReport parses and validates a v1 report; now is the clock that
// confirmed_at is judged by. Every problem is reported at once (as
// ReportErrors), so an analyst tool developer can fix a message in one go.
// maxBytes <= 0 means MaxReportBytes.
func DecodeReport(data []byte, maxBytes int, now time.Time) (Report, error) {
	if maxBytes <= 0 {
		maxBytes = MaxReportBytes
	}
	if len(data) > maxBytes {
		return Report{}, ReportErrors{{Reason: fmt.Sprintf("payload is %d bytes, over the limit of %d", len(data), maxBytes)}}
	}
	sc := scanReport(data)
	if sc.fatal != nil {
		return Report{}, ReportErrors{sc.fatal}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		// The walk accepted it, so this is a bug of ours, not the sender's.
		return Report{}, ReportErrors{{Reason: "not a JSON object: " + err.Error()}}
	}
	var r Report
	errs := sc.problems
	add := func(field, format string, args ...any) {
		errs = append(errs, &ReportError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	str := func(field string, required bool) string {
		v, ok := raw[field]
		if !ok || string(v) == "null" {
			if required {
				add(field, "missing")
			}
			return ""
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			add(field, "must be a string")
			return ""
		}
		if sc.flagged[field] {
			return "" // already reported by the walk
		}
		s = strings.TrimSpace(s)
		if s == "" && required {
			add(field, "empty")
		}
		return s
	}

	r.ReportID = str("report_id", true)
	if len(r.ReportID) > 256 {
		add("report_id", "longer than 256 characters")
	}
	r.URL = str("url", true)
	if r.URL != "" {
		if reason := checkURL(r.URL); reason != "" {
			add("url", "%s", reason)
		}
	}
	if s := str("confirmed_at", true); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		switch {
		case err != nil:
			add("confirmed_at", "not an RFC 3339 time: %q", s)
		case t.Year() < EarliestConfirmedYear:
			add("confirmed_at", "%s is before %d: not a confirmation time (a zero or default value?)", s, EarliestConfirmedYear)
		case t.After(now.Add(MaxConfirmedAhead)):
			add("confirmed_at", "%s is more than a day after now (%s): check the analyst tool's clock", s, now.UTC().Format(time.RFC3339))
		}
		r.ConfirmedAt = t
	}
	if s := str("classification", true); s != "" {
		r.Classification = Classification(s)
		switch r.Classification {
		case ClassBaseline, ClassA1, ClassA2, ClassB1, ClassB2:
		default:
			add("classification", "unknown classification %q (want baseline, A1, A2, B1 or B2)", s)
		}
	}
	if s := str("media_type", false); s != "" {
		switch s {
		case "image", "video", "audio", "text", "mixed":
			r.MediaType = s
		default:
			add("media_type", "unknown media type %q (want image, video, audio, text or mixed)", s)
		}
	}
	if s := str("priority", false); s != "" {
		r.Priority = Priority(s)
		if r.Priority != PriorityNormal && r.Priority != PriorityHigh {
			add("priority", "unknown priority %q (want normal or high)", s)
		}
	} else {
		r.Priority = PriorityNormal
	}
	r.Analyst = str("analyst", false)
	r.Source = str("source", false)
	r.PartnerRef = str("partner_ref", false)
	if v, ok := raw["hashes"]; ok && string(v) != "null" && !sc.flagged["hashes"] {
		r.Hashes = decodeHashes(v, add)
	}
	for k, v := range raw {
		if !knownReportFields[k] {
			if r.Extra == nil {
				r.Extra = map[string]json.RawMessage{}
			}
			r.Extra[k] = v
		}
	}
	if len(errs) > 0 {
		return Report{}, errs
	}
	return r, nil
}

func decodeHashes(v json.RawMessage, add func(field, format string, args ...any)) Hashes {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		add("hashes", "must be an object")
		return Hashes{}
	}
	var h Hashes
	for name, raw := range m {
		want, known := hashLengths[name]
		if !known {
			add("hashes."+name, "unknown hash (want md5, sha1 or sha256)")
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			add("hashes."+name, "must be a string")
			continue
		}
		s = strings.ToLower(strings.TrimSpace(s))
		if len(s) != want {
			add("hashes."+name, "is %d hex digits, want %d", len(s), want)
			continue
		}
		if _, err := hex.DecodeString(s); err != nil {
			add("hashes."+name, "not hexadecimal")
			continue
		}
		switch name {
		case "md5":
			h.MD5 = s
		case "sha1":
			h.SHA1 = s
		case "sha256":
			h.SHA256 = s
		}
	}
	return h
}

// checkURL returns why s is not an absolute http(s) URL that a report may
// carry, or "". Host names are judged by the normaliser (pkg/urlnorm),
// which intake runs next; what is checked here is what the contract says
// of every URL.
func checkURL(s string) string {
	if len(s) > 8192 {
		return "longer than 8192 characters"
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("not a URL: %v", err)
	}
	if !u.IsAbs() {
		return "not an absolute URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("scheme %q is not http or https", u.Scheme)
	}
	if u.Opaque != "" {
		return "not a hierarchical URL (no // after the scheme)"
	}
	if u.User != nil {
		// A notice would quote them to the hoster, and the case would
		// serve them to every reader of the API: the analyst tool must
		// strip them.
		return "contains credentials (user info before @): remove them"
	}
	if u.Hostname() == "" {
		return "no host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s is outside 1-65535", p)
		}
	}
	return ""
}
