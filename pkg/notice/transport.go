package notice

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// The X-ARF e-mail transport (xarf.org, "Email Transport (SMTP)") extends
// RFC 5965: a multipart/report of report-type feedback-report with three
// parts in this order — the text for people, a message/feedback-report
// part whose Feedback-Type is "xarf", and the X-ARF JSON report, base64,
// as xarf.json. Its reference parser insists on the multipart/report,
// looks for Feedback-Type: xarf and takes the application/json part,
// skipping everything else; with several JSON parts the last one wins,
// which is why such a mail carries exactly one URL.

// XARFFilename is the name of the JSON report in an X-ARF mail, the one
// the transport description uses.
const XARFFilename = "xarf.json"

// assembleXARF writes n, which has one item, in the X-ARF transport shape.
// The text is the same bilingual notice a batched mail carries, so a
// person reading the mail loses nothing.
func assembleXARF(h *mail.Header, n Notice, m Message, userAgent string) ([]byte, error) {
	h.SetContentType("multipart/report", map[string]string{"report-type": "feedback-report", "boundary": boundary(n.Ref)})
	var fh message.Header
	fh.SetContentType("message/feedback-report", nil)
	fh.Set("Content-Disposition", "inline")
	return writeMultipart(h, []part{
		{name: "body", header: textHeader(), body: []byte(m.Body)},
		{name: "feedback report", header: fh, body: feedbackReport(n, userAgent)},
		{name: XARFFilename, header: jsonHeader(XARFFilename), body: m.XARF[0]},
	})
}

// feedbackReport is the body of the message/feedback-report part: the
// three fields the transport requires and, as RFC 5965 allows, the domain
// the report is about, for ARF tools that show it. The URL itself stays
// in the JSON, where no header syntax constrains it.
func feedbackReport(n Notice, userAgent string) []byte {
	var b strings.Builder
	b.WriteString("Feedback-Type: xarf\r\n")
	fmt.Fprintf(&b, "User-Agent: %s\r\n", userAgent)
	b.WriteString("Version: 1\r\n")
	if u, err := url.Parse(n.Items[0].URL); err == nil {
		if host := strings.ToLower(u.Hostname()); domainPattern.MatchString(host) {
			fmt.Fprintf(&b, "Reported-Domain: %s\r\n", host)
		}
	}
	return []byte(b.String())
}

// printableASCII reports whether s is non-empty visible ASCII and spaces,
// safe as a header field value.
func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
