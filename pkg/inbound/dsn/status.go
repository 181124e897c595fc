package dsn

import (
	"regexp"
	"strings"
)

// Status codes are read only where a bounce carries them: the Status and
// Diagnostic-Code fields of a report, and the diagnostic lines a text
// bounce quotes from the remote server. Searching the whole message would
// take a Received IP (192.2.0.128) or a product version (4.0.994.63) for
// a status.

var (
	statusRE = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)
	// enhancedRE finds an enhanced status code; the caller rejects
	// matches that are part of a longer dotted number.
	enhancedRE = regexp.MustCompile(`[245]\.\d{1,3}\.\d{1,3}`)
	replyRE    = regexp.MustCompile(`(?:^|[^\d.#-])([245][0-5]\d)(?:[ -]|$)`)
)

// statusCode returns v if it is an enhanced status code, else "".
func statusCode(v string) string {
	v = strings.Trim(v, "()[]#.,;:")
	if statusRE.MatchString(v) {
		return v
	}
	return ""
}

// findStatus returns the first enhanced status code in a diagnostic
// that stands alone: not inside an IP address or version number.
func findStatus(diag string) string {
	for _, loc := range enhancedRE.FindAllStringIndex(diag, 8) {
		i, j := loc[0], loc[1]
		if i > 0 && (isDigit(diag[i-1]) || diag[i-1] == '.') {
			continue
		}
		if j < len(diag) && isDigit(diag[j]) {
			continue
		}
		if j+1 < len(diag) && diag[j] == '.' && isDigit(diag[j+1]) {
			continue
		}
		return diag[i:j]
	}
	return ""
}

// findReply returns the first SMTP reply code (4xx, 5xx) in a diagnostic.
func findReply(diag string) string {
	for _, m := range replyRE.FindAllStringSubmatch(diag, 8) {
		if m[1][0] == '4' || m[1][0] == '5' {
			return m[1]
		}
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// generic reports whether a status code says only its class (x.0.0),
// so a more specific code in the diagnostic is worth more.
func generic(code string) bool {
	return code == "" || strings.HasSuffix(code, ".0.0")
}

// preferStatus picks the status of a recipient: the report's own, unless
// that is empty or only a class and the diagnostic names a code of the
// same class (or the report named none).
func preferStatus(field, diag string) string {
	found := findStatus(diag)
	switch {
	case field == "":
		return found
	case found == "" || found == field:
		return field
	case generic(field) && found[0] == field[0]:
		return found
	}
	return field
}

// statusReasons maps a status code to the reason it names on its own
// (after sisimai's smtp/status table); codes absent here (x.0.0, 4.3.0,
// 4.4.0, 4.5.0, 4.7.0…) say too little to name one.
var statusReasons = map[string]string{
	"2.1.5": "delivered",
	"4.1.6": "hasmoved", "4.1.7": "rejected", "4.1.8": "rejected", "4.1.9": "systemerror",
	"4.2.1": "blocked", "4.2.2": "mailboxfull", "4.2.3": "exceedlimit", "4.2.4": "filtered",
	"4.3.1": "systemfull", "4.3.2": "notaccept", "4.3.3": "systemerror", "4.3.5": "systemerror",
	"4.4.1": "expired", "4.4.2": "networkerror", "4.4.3": "systemerror", "4.4.4": "networkerror",
	"4.4.5": "systemfull", "4.4.6": "networkerror", "4.4.7": "expired", "4.4.8": "networkerror",
	"4.5.3": "systemerror", "4.5.5": "systemerror",
	"4.6.0": "contenterror", "4.6.2": "contenterror", "4.6.5": "contenterror",
	"4.7.1": "blocked", "4.7.2": "blocked", "4.7.5": "securityerror", "4.7.6": "securityerror",
	"4.7.7": "securityerror", "4.7.12": "securityerror", "4.7.15": "securityerror", "4.7.16": "mesgtoobig",
	"4.7.24": "authfailure", "4.7.25": "requireptr", "4.7.26": "authfailure",
	"5.1.0": "userunknown", "5.1.1": "userunknown", "5.1.2": "hostunknown", "5.1.3": "userunknown",
	"5.1.4": "filtered", "5.1.6": "hasmoved", "5.1.7": "rejected", "5.1.8": "rejected",
	"5.1.9": "systemerror", "5.1.10": "notaccept",
	"5.2.0": "filtered", "5.2.1": "filtered", "5.2.2": "mailboxfull", "5.2.3": "exceedlimit", "5.2.4": "filtered",
	"5.3.0": "systemerror", "5.3.1": "systemfull", "5.3.2": "notaccept", "5.3.3": "systemerror",
	"5.3.4": "mesgtoobig", "5.3.5": "systemerror",
	"5.4.0": "networkerror", "5.4.3": "systemerror", "5.4.4": "hostunknown",
	"5.5.2": "syntaxerror", "5.5.3": "toomanyconn", "5.5.4": "systemerror", "5.5.5": "systemerror", "5.5.6": "syntaxerror",
	"5.6.0": "contenterror", "5.6.1": "contenterror", "5.6.2": "contenterror", "5.6.3": "contenterror",
	"5.6.5": "contenterror", "5.6.6": "contenterror", "5.6.7": "contenterror", "5.6.8": "contenterror", "5.6.9": "contenterror",
	"5.7.0": "securityerror", "5.7.1": "securityerror", "5.7.2": "securityerror", "5.7.3": "securityerror",
	"5.7.4": "securityerror", "5.7.5": "securityerror", "5.7.6": "securityerror", "5.7.7": "securityerror",
	"5.7.8": "securityerror", "5.7.9": "securityerror", "5.7.10": "securityerror", "5.7.11": "securityerror",
	"5.7.13": "suspend", "5.7.14": "securityerror", "5.7.15": "securityerror", "5.7.16": "mesgtoobig",
	"5.7.17": "hasmoved", "5.7.18": "hasmoved", "5.7.19": "securityerror",
	"5.7.20": "authfailure", "5.7.21": "authfailure", "5.7.22": "authfailure", "5.7.23": "authfailure",
	"5.7.24": "authfailure", "5.7.25": "requireptr", "5.7.26": "authfailure", "5.7.27": "notaccept",
	"5.7.28": "spamdetected", "5.7.29": "authfailure", "5.7.30": "failedstarttls",
}

// smtpCommand names the SMTP command a diagnostic says the remote server
// answered, "" if it does not say: the wording that comes first wins,
// and in a Sendmail transcript the last command sent before the error.
func smtpCommand(text string) string {
	l := strings.ToLower(strings.Join(strings.Fields(text), " "))
	if cmd := transcriptCommand(l); cmd != "" {
		return cmd
	}
	best, at := "", len(l)+1
	for _, c := range commandWords {
		if i := strings.Index(l, c.word); i >= 0 && i < at {
			best, at = c.cmd, i
		}
	}
	return best
}

var commandWords = []struct{ cmd, word string }{
	{"DATA", "end of data"}, {"DATA", "after data"}, {"DATA", "to data command"}, {"DATA", "data command"},
	{"DATA", "final data"}, {"DATA", "[data]"}, {"RCPT", "rcpt to"}, {"RCPT", "rcpt command"},
	{"RCPT", "[rcpt_to]"}, {"RCPT", "rcpt to response"}, {"MAIL", "mail from"}, {"MAIL", "mail command"},
	{"MAIL", "[mail_from]"}, {"EHLO", "to ehlo"}, {"HELO", "to helo"}, {"EHLO", "ehlo command"},
	{"HELO", "helo command"}, {"CONN", "initial connection"}, {"CONN", "smtp greeting"},
}

// transcriptCommand reads a Sendmail-style session transcript
// (">>> RCPT To:<a@b>" then "<<< 550 …"): the command is the last one
// sent before the first refusal.
func transcriptCommand(l string) string {
	i := strings.Index(l, "<<< 5")
	if j := strings.Index(l, "<<< 4"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	k := strings.LastIndex(l[:i], ">>> ")
	if k < 0 {
		return ""
	}
	w := strings.ToUpper(firstWord(strings.Trim(l[k+4:], " ")))
	switch {
	case strings.HasPrefix(w, "RCPT"):
		return "RCPT"
	case strings.HasPrefix(w, "MAIL"):
		return "MAIL"
	case strings.HasPrefix(w, "DATA"), w == ".":
		return "DATA"
	case w == "EHLO", w == "HELO", w == "STARTTLS", w == "AUTH":
		return w
	}
	return ""
}
