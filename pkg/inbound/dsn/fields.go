package dsn

import (
	"bufio"
	"errors"
	"io"
	"net/mail"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Bounds on the fields of a delivery-status part.
const (
	maxRecipients   = 100
	maxFieldValueSz = 1000
)

// statusFields are the per-message and per-recipient fields of a
// delivery-status part (RFC 3464 section 2.1).
type statusFields struct {
	ReportingMTA string
	Recipients   []Recipient
}

// readStatus parses a delivery-status part: header-like blocks separated
// by blank lines, the first one about the message, each further one
// about one recipient. A part that breaks off still yields what came
// before.
func readStatus(text string) statusFields {
	var sf statusFields
	br := bufio.NewReader(strings.NewReader(text))
	for len(sf.Recipients) < maxRecipients {
		skipBlankLines(br)
		if _, err := br.Peek(1); err != nil {
			break
		}
		h, err := textproto.ReadHeader(br)
		if v := field(h, "Reporting-MTA"); v != "" && sf.ReportingMTA == "" {
			sf.ReportingMTA = v
		}
		if rc := recipientOf(h); rc.Address != "" || rc.Status != "" || rc.Action != "" {
			sf.Recipients = append(sf.Recipients, rc)
		}
		// A malformed line has been consumed: go on with the next block.
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return sf
}

func recipientOf(h textproto.Header) Recipient {
	rc := Recipient{
		Address:           address(field(h, "Final-Recipient")),
		OriginalRecipient: address(field(h, "Original-Recipient")),
		Action:            strings.ToLower(strings.TrimRight(firstWord(field(h, "Action")), ".;,")),
		Status:            statusCode(firstWord(field(h, "Status"))),
		Diagnostic:        field(h, "Diagnostic-Code"),
		RemoteMTA:         field(h, "Remote-MTA"),
	}
	if rc.Address == "" {
		// Some MTAs write only the original recipient, or the address
		// without its type.
		rc.Address = rc.OriginalRecipient
	}
	if rc.Address == "" && (rc.Status != "" || rc.Action != "") {
		// X-Actual-Recipient (Sendmail) or a recipient named only in the
		// diagnostic.
		rc.Address = address(field(h, "X-Actual-Recipient"))
	}
	return rc
}

// field returns a header value with folding undone and its length
// bounded.
func field(h textproto.Header, k string) string {
	v := strings.Join(strings.Fields(h.Get(k)), " ")
	if len(v) > maxFieldValueSz {
		v = v[:maxFieldValueSz]
	}
	return strings.ToValidUTF8(v, "?")
}

// address strips the address type ("rfc822; a@b" → "a@b"), brackets and
// quotes, and lower-cases the result; "" if no address remains.
func address(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	return cleanAddr(v)
}

// addrRE finds an address in free text: a local part, "@" and a domain
// with at least one dot.
var addrRE = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`)

// cleanAddr reduces v to the one address in it.
func cleanAddr(v string) string {
	v = strings.TrimSpace(v)
	if a, err := mail.ParseAddress(v); err == nil {
		return strings.ToLower(a.Address)
	}
	m := addrRE.FindString(v)
	return strings.ToLower(strings.Trim(m, ".-"))
}

// firstAddr returns the first address of an address list header.
func firstAddr(v string) string {
	if list, err := mail.ParseAddressList(v); err == nil && len(list) > 0 {
		return strings.ToLower(list[0].Address)
	}
	return cleanAddr(v)
}

func firstWord(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// hasStatusFields reports whether a text holds RFC 3464 per-recipient
// fields, as some MTAs write them into a text/plain part.
func hasStatusFields(text string) bool {
	l := strings.ToLower(text)
	return (strings.Contains(l, "\nfinal-recipient:") || strings.Contains(l, "\noriginal-recipient:")) &&
		(strings.Contains(l, "\nstatus:") || strings.Contains(l, "\naction:"))
}

// statusFieldsOfText picks the field lines out of a text and reads them
// as a delivery-status part.
func statusFieldsOfText(text string) statusFields {
	var b strings.Builder
	inBlock := false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimRight(line, "\r")
		k, _, ok := strings.Cut(t, ":")
		switch {
		case ok && dsnFieldNames[strings.ToLower(strings.TrimSpace(k))] && !strings.HasPrefix(t, " "):
			if strings.EqualFold(strings.TrimSpace(k), "Final-Recipient") || strings.EqualFold(strings.TrimSpace(k), "Reporting-MTA") {
				b.WriteString("\n")
			}
			b.WriteString(strings.TrimSpace(t) + "\n")
			inBlock = true
		case inBlock && (strings.HasPrefix(t, " ") || strings.HasPrefix(t, "\t")) && strings.TrimSpace(t) != "":
			b.WriteString(t + "\n")
		default:
			inBlock = false
		}
	}
	return readStatus(b.String())
}

var dsnFieldNames = map[string]bool{
	"reporting-mta": true, "arrival-date": true, "received-from-mta": true, "original-envelope-id": true,
	"final-recipient": true, "original-recipient": true, "action": true, "status": true,
	"diagnostic-code": true, "remote-mta": true, "last-attempt-date": true, "will-retry-until": true,
	"x-actual-recipient": true,
}
