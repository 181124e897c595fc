package dsn

import (
	"regexp"
	"slices"
	"strings"
)

// A text bounce is a report written for people: an MTA explains, in its
// own words and layout, which recipients failed and quotes what the
// remote server said, then usually appends the original. The layouts are
// few and old (see families.go); this file reads them all the same way:
// cut the returned original off, find the blocks that start with a
// recipient's address, and take each block's lines as its diagnostic.

// maxDiag bounds one recipient's diagnostic.
const maxDiag = 1000

// textRecipient is one failed recipient read from a text bounce.
type textRecipient struct {
	Address string
	Diag    []string
}

// textReport is what a text bounce says.
type textReport struct {
	Recipients []textRecipient
	// DiagLines are the lines anywhere in the error part that quote a
	// server's answer (they start with a reply code, or carry "said:",
	// "(#5.1.1)" and the like): the diagnostic when a recipient's block
	// has none of its own.
	DiagLines []string
	// Error is the part of the text before the returned original.
	Error string
	// Original is the returned original's header, if the text quotes one.
	Original string
	// Mentioned are addresses the explanation names as the one the
	// message could not be delivered to ("error delivering your mail to
	// <a@b>"), for bounces without recipient blocks.
	Mentioned []string
}

// splitOriginal cuts a text bounce at the line where the returned
// original begins.
func splitOriginal(text string) (errPart, original string) {
	lines := strings.SplitAfter(text, "\n")
	off := 0
	for i, line := range lines {
		if i > 0 && isOriginalBoundary(strings.TrimSpace(line)) {
			return text[:off], text[off+len(line):]
		}
		off += len(line)
	}
	return text, ""
}

var boundaryRE = regexp.MustCompile(`(?i)^(?:[-=_*#]{2,}.*(?:original|returned|unsent|undelivered|copy of|message header|headers? (?:of|follow)|rfc822|the header|message follows|below this line).*|(?:original|returned) message(?: headers?)?(?: follows)?:?|original message headers:|content-type: (?:message/rfc822|text/rfc822-headers).*|.*below this line is a copy of the message.*|the header of the original message is following\..*|\*\* original message follows.*|(?:the )?(?:original )?message headers? follows?\.?:?|headers? of (?:the )?original message:?|original message(?: follows)?[.:]?)$`)

func isOriginalBoundary(t string) bool {
	return t != "" && len(t) < 120 && boundaryRE.MatchString(t)
}

var (
	// blockStartRE: a line that begins with a recipient address — bare,
	// bracketed, in quotes, after "Failed Recipient:"-like labels, with an
	// "(expanded from …)" or "on <date>" after it, or with the
	// diagnostic after a colon.
	blockStartRE = regexp.MustCompile(`(?i)^(?:[-*•>]\s*)?(?:(?:final-|failed |original |invalid |bad )?recipients?(?: address(?:es)?)?:\s*|address(?:es)?:\s*|to:\s*(?:rfc822;\s*)?|rfc822;\s*)?["'<(]*([A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)[>"')]*\s*(.*)$`)
	// transcriptRE: a sendmail-style transcript line "550 5.1.1 <a@b>... User unknown".
	transcriptRE = regexp.MustCompile(`^(?:<<<\s*)?[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?<([^>\s]+@[^>\s]+)>\.\.\.\s*(.*)$`)
	// labelAddrRE: "Unknown user: a@b", the diagnostic before the address.
	labelAddrRE = regexp.MustCompile(`^([^:<>@"]{3,60}):\s*<?([A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?\s*$`)
	// mentionRE: a sentence naming the address delivery failed to.
	mentionRE    = regexp.MustCompile(`(?i)(?:deliver(?:ing|ed|y)?|sent|sending|message|mail|email|e-mail|transmit(?:ting)?|recipient)\b[^<>]{0,40}?\b(?:to|for)\b:?\s*<([^<>\s@]+@[^<>\s]+)>`)
	replyStartRE = regexp.MustCompile(`^(?:<<<\s*|#|\()?[45]\d\d[ -]`)
)

// readText reads a text bounce: the blocks of its failed recipients and
// the quoted server answers.
func readText(text string) textReport {
	errPart, original := splitOriginal(text)
	rep := textReport{Error: errPart, Original: original}
	var cur *textRecipient
	started := false // the current block has diagnostic lines
	lines := strings.Split(errPart, "\n")
	for i := 0; i < len(lines) && i < 5000; i++ {
		raw := strings.TrimRight(lines[i], "\r")
		t := strings.TrimSpace(raw)
		if t == "" {
			if cur != nil && started {
				cur = nil
			}
			continue
		}
		if isDiagLine(t) && len(rep.DiagLines) < 40 {
			d := t
			// A reply split over lines ("550-..." then "550 ...") or
			// wrapped: keep the next indented lines with it.
			for i+1 < len(lines) && continued(lines[i+1]) && len(d) < maxDiag {
				i++
				d += " " + strings.TrimSpace(lines[i])
			}
			rep.DiagLines = append(rep.DiagLines, d)
			if m := transcriptRE.FindStringSubmatch(t); m != nil {
				cur = rep.add(m[1])
				cur.Diag = append(cur.Diag, d)
				started = true
				continue
			}
			if cur != nil {
				cur.Diag = append(cur.Diag, d)
				started = true
			}
			continue
		}
		if m := labelAddrRE.FindStringSubmatch(t); m != nil && !labelLine(t) && !strings.HasPrefix(strings.ToLower(t), "to:") {
			cur = rep.add(m[2])
			cur.Diag = append(cur.Diag, m[1])
			started = true
			continue
		}
		if m := blockStartRE.FindStringSubmatch(t); m != nil && !labelLine(t) && plausibleRest(m[2]) {
			cur = rep.add(m[1])
			started = false
			if rest := strings.TrimSpace(strings.TrimLeft(m[2], ":")); rest != "" && !strings.HasPrefix(strings.ToLower(rest), "on ") {
				cur.Diag = append(cur.Diag, rest)
				started = true
			}
			continue
		}
		if m := mentionRE.FindStringSubmatch(t); m != nil && len(rep.Mentioned) < 8 {
			rep.Mentioned = append(rep.Mentioned, strings.ToLower(m[1]))
		}
		if cur != nil && len(strings.Join(cur.Diag, " ")) < maxDiag {
			cur.Diag = append(cur.Diag, t)
			started = true
		}
	}
	if len(rep.Recipients) == 0 && original != "" {
		rep.Original = original
	}
	return rep
}

// add returns the block of addr, making one if it is new.
func (r *textReport) add(addr string) *textRecipient {
	addr = strings.ToLower(strings.Trim(addr, ".-"))
	for i := range r.Recipients {
		if r.Recipients[i].Address == addr {
			return &r.Recipients[i]
		}
	}
	if len(r.Recipients) >= maxRecipients {
		return &textRecipient{}
	}
	r.Recipients = append(r.Recipients, textRecipient{Address: addr})
	return &r.Recipients[len(r.Recipients)-1]
}

// labelLine is a line that names an address but starts no recipient
// block: the original's From or To quoted in the explanation.
func labelLine(t string) bool {
	l := strings.ToLower(t)
	for _, p := range []string{"from:", "sender:", "reply-to:", "return-path:", "subject:", "date:", "message-id:", "cc:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// plausibleRest is what may follow the address of a block start: nothing,
// a colon and the diagnostic, "(expanded from …)", "on <date>", "...",
// or a short note; not the middle of a sentence that mentions an address.
func plausibleRest(rest string) bool {
	r := strings.ToLower(strings.TrimSpace(rest))
	switch {
	case r == "", strings.HasPrefix(r, ":"), strings.HasPrefix(r, "("), strings.HasPrefix(r, "on "),
		strings.HasPrefix(r, "..."), strings.HasPrefix(r, "- "), strings.HasPrefix(r, "#"), strings.HasPrefix(r, "<"),
		strings.HasPrefix(r, "["), strings.HasPrefix(r, ","):
		return true
	}
	return false
}

// isDiagLine reports whether a line quotes a server's answer.
func isDiagLine(t string) bool {
	if replyStartRE.MatchString(t) {
		return true
	}
	l := strings.ToLower(t)
	for _, w := range diagMarkers {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// diagMarkers introduce or carry a remote server's answer in the text
// bounces of common MTAs.
var diagMarkers = []string{
	" said: ", "said:", "remote server returned", "smtp error from remote", "remote host said",
	"the error that the other server returned", "diagnostic-code:", "(#5.", "(#4.", "#5.", "#4.",
	"host said:", "server replied:", "smtp;", "smtp; ", "reason: ", "remote-mta", "status:",
}

// continued reports whether a line carries on the diagnostic above it:
// indented, or a further line of a multi-line reply.
func continued(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	if strings.HasPrefix(line, "   ") || strings.HasPrefix(line, "\t") {
		t := strings.TrimSpace(line)
		return blockStartRE.FindStringSubmatch(t) == nil || replyStartRE.MatchString(t)
	}
	return false
}

// diagOf joins a recipient's diagnostic lines, bounded.
func diagOf(lines []string) string {
	s := strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
	if len(s) > maxDiag {
		s = s[:maxDiag]
	}
	return strings.ToValidUTF8(s, "?")
}

// notRecipient reports addresses a bounce names that are not the failed
// recipient: the daemon itself, the bounce's own addressee (the
// original's sender).
func notRecipient(addr string, own []string) bool {
	local, _, _ := strings.Cut(addr, "@")
	switch local {
	case "mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "noreply", "no-reply":
		return true
	}
	return slices.Contains(own, addr)
}
