package dsn

import (
	"slices"
	"strings"
)

// Reasons are sisimai's names for why a delivery failed. The ones that
// say the address itself is gone are hard: userunknown, hostunknown,
// hasmoved, and notaccept (the domain takes no mail: null MX) unless the
// server said it only for now. Every other reason may pass — a full
// mailbox, a block list, a filter, a queue that expired.
const (
	ReasonUndefined = "undefined" // nothing to go by
	ReasonOnHold    = "onhold"    // a diagnostic, but none that names a reason
)

// retried are the reasons a status code or an MTA's wording suggests but
// that the diagnostic may still refine (sisimai's GetRetried).
var retried = []string{"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror", "hostunknown", "userunknown"}

// Probe order: the first reason whose probe accepts wins. It follows
// sisimai's reason.classorder: specific wordings before general ones, the
// recipient's mailbox before the sender's reputation.
var (
	firstOrder = []string{
		"mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
		"userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
		"rejected", "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked",
	}
	laterOrder = []string{
		"mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
		"policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
		"systemfull", "notaccept", "expired", "failedstarttls", "securityerror", "suppressed", "mailererror",
	}
)

// beforeData are the commands the remote server answers before it has
// seen the message: a refusal there cannot be about its content.
var beforeData = []string{"CONN", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT"}

// facts are what the reason is decided from.
type facts struct {
	Status  string // enhanced status code
	Reply   string // SMTP reply code
	Diag    string // the diagnostic, lower case
	Command string // the SMTP command answered, if the bounce says
	Action  string
	Hint    string // a reason the MTA's own wording named
}

// reasonOf names the reason of one failed recipient, after sisimai's
// reason.Find: the MTA's own hint if it is definite; else the first
// reason in firstOrder whose probe accepts; else what the status code
// names; else the general wordings; else the class of the status.
func reasonOf(f facts) string {
	if f.Hint != "" && !slices.Contains(retried, f.Hint) {
		return f.Hint
	}
	if strings.HasPrefix(f.Status, "2.") {
		return "delivered"
	}
	byCode := statusReasons[f.Status]
	for _, r := range firstOrder {
		if probe(r, f, byCode) {
			return r
		}
	}
	if f.Hint != "" {
		return f.Hint
	}
	if byCode == "" || slices.Contains(retried, byCode) {
		for _, r := range laterOrder {
			if says(r, f.Diag) {
				return r
			}
		}
		if byCode != "" {
			return byCode
		}
		switch {
		case strings.HasPrefix(f.Status, "5.6.") || strings.HasPrefix(f.Status, "4.6."):
			return "contenterror"
		case strings.HasPrefix(f.Status, "5.7.") || strings.HasPrefix(f.Status, "4.7."):
			return "securityerror"
		case f.Action == "delayed" || f.Action == "expired":
			return "expired"
		case f.Command == "EHLO" || f.Command == "HELO":
			return "blocked"
		case says("syntaxerror", f.Diag):
			return "syntaxerror"
		case f.Diag != "":
			return ReasonOnHold
		}
		return ReasonUndefined
	}
	return byCode
}

// probe is one reason's test (sisimai's ProbesInto): mostly "the status
// code names it, or the diagnostic says it", with the exceptions that
// keep one reason from swallowing another.
func probe(r string, f facts, byCode string) bool {
	if f.Hint == r {
		return true
	}
	d := f.Diag
	switch r {
	case "mesgtoobig":
		if byCode == "exceedlimit" || f.Status == "5.2.3" {
			return false
		}
		return byCode == r || says(r, d)
	case "suspend":
		return f.Reply == "525" || says(r, d)
	case "hasmoved", "notcompliantrfc", "badreputation":
		return says(r, d)
	case "norelaying":
		if f.Command == "CONN" || f.Command == "EHLO" || f.Command == "HELO" {
			return false
		}
		return says(r, d)
	case "userunknown":
		if byCode == r {
			for _, other := range []string{"norelaying", "blocked", "mailboxfull", "hasmoved", "notaccept"} {
				if says(other, d) {
					return false
				}
			}
			return !saysRejected(d) && !(says("filtered", d) && !says(r, d))
		}
		// Without a code that says so, the wording counts only where the
		// server said it to RCPT: after DATA it is a content filter
		// speaking as if the user were unknown (sisimai reads it so).
		return f.Command == "RCPT" && says(r, d)
	case "filtered":
		if byCode == r {
			return says("userunknown", d) || says(r, d)
		}
		if slices.Contains(beforeData, f.Command) {
			return false
		}
		return says(r, d) || says("userunknown", d)
	case "rejected":
		if byCode == r {
			return true
		}
		switch {
		case f.Command == "MAIL":
			return saysRejected(d)
		case f.Command == "DATA" && byCode != "userunknown":
			return saysRejected(d)
		case byCode == "" || byCode == "securityerror" || byCode == "systemerror" || byCode == ReasonOnHold:
			return saysRejected(d)
		}
		return false
	case "hostunknown":
		if byCode == r {
			return !says("networkerror", d)
		}
		return says(r, d)
	case "spamdetected":
		if f.Status == "" {
			return false
		}
		if byCode == r {
			return true
		}
		if slices.Contains(beforeData, f.Command) {
			return false
		}
		return says(r, d)
	case "contenterror":
		if probe("spamdetected", f, byCode) {
			return false
		}
		return byCode == r || says(r, d)
	}
	return byCode == r || says(r, d)
}

// saysRejected is the sender-refused wording, except where the words
// are about the recipient.
func saysRejected(d string) bool {
	for _, not := range []string{"5.1.0 address rejected", "recipient address rejected", "sender ip address rejected"} {
		if strings.Contains(d, not) {
			return false
		}
	}
	return says("rejected", d)
}

// hardBounce reports whether a reason says the address is gone for good
// (sisimai's failure.IsHardBounce); evidence is the status code and the
// diagnostic, which tell a null MX refused for good from one refused for
// now.
func hardBounce(reason, evidence string) bool {
	switch reason {
	case "userunknown", "hostunknown", "hasmoved":
		return true
	case "notaccept":
		evidence = strings.TrimSpace(evidence)
		if evidence == "" {
			return true
		}
		code := findStatus(evidence)
		if code == "" {
			code = findReply(evidence)
		}
		return strings.HasPrefix(code, "5") || !temporaryWords(evidence)
	}
	return false
}

// temporaryWords reports whether a diagnostic says its failure is
// temporary.
func temporaryWords(diag string) bool {
	l := strings.ToLower(diag)
	code := findStatus(l)
	if code == "" {
		code = findReply(l)
	}
	return strings.HasPrefix(code, "4") || strings.Contains(l, " temporar") || strings.Contains(l, " persistent")
}
