package retention

import (
	"encoding/json"
	"regexp"
	"strings"
)

// What a redacted event keeps of its data: these keys, with a number, a
// boolean or a string that has been scrubbed. Everything else — contacts
// lists, a reply's text and subject, message ids, report sources, final
// hosts — is dropped. The list names fields written today by intake,
// enrich, route, notify, recheck and inbound (and tests hold it to that).
var keptData = map[string]bool{
	"kind": true, "level": true, "channel": true, "outcome": true, "notice": true, "partner": true,
	"country": true, "lang": true, "classification": true, "priority": true, "report_id": true,
	"verdict": true, "status": true, "check": true, "gone_streak": true, "duration_ms": true,
	"trigger": true, "redirects": true, "removed_at": true, "confirmed_at": true, "last_online_at": true,
	"streak": true, "reminder": true, "reason": true, "hard": true, "permanent": true, "auto": true,
	"format": true, "action": true, "disagree": true, "matched_by": true, "at": true,
}

// The shapes scrub replaces: URLs, e-mail addresses, IP addresses and
// host names (a dotted name ending in a letter label, which leaves
// version numbers and SMTP codes such as 5.1.1 alone).
var (
	reURL   = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://\S*`)
	reMail  = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;]+`)
	reIPv6  = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b|(?:[0-9a-f]{1,4}:)*[0-9a-f]{0,4}::[0-9a-f:.]*`)
	reIPv4  = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	reHost  = regexp.MustCompile(`(?i)\b(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+(?:xn--[a-z0-9-]+|[a-z]{2,63})\b\.?`)
	rePath  = regexp.MustCompile(`(?:^|\s)/\S+`)
	maxKept = 300
)

// redacted replaces what scrub removed.
const redacted = "[redacted]"

// scrub removes from free text everything that could point at the
// material or name a person or mailbox: URLs, paths, e-mail addresses,
// IP addresses and host names.
func scrub(s string) string {
	for _, re := range []*regexp.Regexp{reURL, reMail, reIPv4, reIPv6, reHost} {
		s = re.ReplaceAllString(s, redacted)
	}
	s = rePath.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, " ") || strings.HasPrefix(m, "\t") || strings.HasPrefix(m, "\n") {
			return m[:1] + redacted
		}
		return redacted
	})
	if len(s) > maxKept {
		s = strings.ToValidUTF8(s[:maxKept], "") + "…"
	}
	return s
}

// scrubData keeps the allowed keys of an event's data (an object), with
// scalar values only and strings scrubbed; nil when nothing is left.
func scrubData(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range in {
		if !keptData[k] {
			continue
		}
		switch v := v.(type) {
		case string:
			out[k] = scrub(v)
		case float64, bool:
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}
