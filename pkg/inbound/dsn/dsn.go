// Package dsn reads delivery status notifications (RFC 3464): the
// multipart/report bounces and delay warnings mail servers send back when a
// message could not be delivered. It extracts, per recipient, the action,
// the status code and the diagnostic, and the header of the returned
// original, so the caller can tell which message bounced and whether for
// good.
package dsn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// ErrNotDSN is returned for a message that is no delivery status report.
var ErrNotDSN = errors.New("not a delivery status notification")

// Limits that keep a hostile report from costing much: a real report
// names a handful of recipients and returns one header.
const (
	maxRecipients   = 100
	maxStatusBytes  = 64 << 10
	maxHeaderBytes  = 256 << 10
	maxExplanation  = 2000
	maxReportParts  = 16
	maxFieldValueSz = 1000
)

// Report is a parsed delivery status notification.
type Report struct {
	// ReportingMTA is the server that wrote the report ("dns; mx.example").
	ReportingMTA string
	Recipients   []Recipient
	// Original is the header of the returned message (from a
	// message/rfc822 or text/rfc822-headers part); nil when the report
	// returned none.
	Original *textproto.Header
	// Explanation is the start of the human-readable first part.
	Explanation string
}

// Recipient is the status of one recipient of the original message.
type Recipient struct {
	FinalRecipient    string // the address, without its "rfc822;" type
	OriginalRecipient string
	Action            string // failed, delayed, delivered, relayed, expanded
	Status            string // enhanced status code, e.g. 5.1.1
	DiagnosticCode    string // e.g. "smtp; 550 5.1.1 user unknown"
	RemoteMTA         string
}

// Permanent reports whether delivery to the recipient failed for good: the
// action says failed, or the status class is 5.
func (r Recipient) Permanent() bool {
	return r.Action == "failed" || strings.HasPrefix(r.Status, "5.")
}

// Temporary reports whether delivery is only delayed (a 4.x.x status or a
// "delayed" action) and the sending server keeps trying.
func (r Recipient) Temporary() bool {
	return !r.Permanent() && (r.Action == "delayed" || strings.HasPrefix(r.Status, "4."))
}

// IsReport reports whether h announces a delivery status report.
func IsReport(h message.Header) bool {
	t, params, err := h.ContentType()
	return err == nil && t == "multipart/report" && strings.EqualFold(params["report-type"], "delivery-status")
}

// Parse reads a delivery status report from e, whose body must not have
// been read yet. It returns ErrNotDSN for any other message.
func Parse(e *message.Entity) (Report, error) {
	if !IsReport(e.Header) {
		return Report{}, ErrNotDSN
	}
	mr := e.MultipartReader()
	if mr == nil {
		return Report{}, ErrNotDSN
	}
	var rep Report
	found := false
	for i := 0; i < maxReportParts; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !tolerable(err) {
			if found {
				break // a broken returned original does not spoil the status
			}
			return rep, fmt.Errorf("read report part: %w", err)
		}
		t, _, _ := p.Header.ContentType()
		switch {
		case t == "message/delivery-status" || t == "message/global-delivery-status":
			if err := rep.readStatus(p.Body); err != nil {
				return rep, err
			}
			found = true
		case t == "message/rfc822" || t == "message/global":
			if h, err := readHeader(p.Body); err == nil {
				rep.Original = &h
			}
		case t == "text/rfc822-headers" || t == "message/global-headers":
			if h, err := readHeader(p.Body); err == nil {
				rep.Original = &h
			}
		case i == 0 && strings.HasPrefix(t, "text/"):
			b, _ := io.ReadAll(io.LimitReader(p.Body, maxExplanation))
			rep.Explanation = strings.ToValidUTF8(string(b), "?")
		}
	}
	if !found {
		return rep, fmt.Errorf("report has no delivery-status part: %w", ErrNotDSN)
	}
	return rep, nil
}

// Failed returns the first recipient that failed for good.
func (r Report) Failed() (Recipient, bool) {
	for _, rc := range r.Recipients {
		if rc.Permanent() {
			return rc, true
		}
	}
	return Recipient{}, false
}

// Delayed returns the first recipient whose delivery is only delayed.
func (r Report) Delayed() (Recipient, bool) {
	for _, rc := range r.Recipients {
		if rc.Temporary() {
			return rc, true
		}
	}
	return Recipient{}, false
}

// readStatus parses the per-message block and the per-recipient blocks
// (RFC 3464 section 2.1): header-like fields separated by blank lines.
func (r *Report) readStatus(body io.Reader) error {
	br := bufio.NewReader(io.LimitReader(body, maxStatusBytes))
	first := true
	for len(r.Recipients) < maxRecipients {
		skipBlankLines(br)
		if _, err := br.Peek(1); err != nil {
			break
		}
		h, err := textproto.ReadHeader(br)
		if err != nil && h.Len() == 0 {
			if first {
				return fmt.Errorf("read delivery status: %w", err)
			}
			break
		}
		if first && h.Has("Reporting-MTA") {
			r.ReportingMTA = field(h, "Reporting-MTA")
			first = false
			if err != nil {
				break
			}
			continue
		}
		first = false
		if rc := recipientOf(h); rc.FinalRecipient != "" || rc.Status != "" || rc.Action != "" {
			r.Recipients = append(r.Recipients, rc)
		}
		if err != nil {
			break
		}
	}
	if len(r.Recipients) == 0 {
		return errors.New("read delivery status: no recipient block")
	}
	return nil
}

func recipientOf(h textproto.Header) Recipient {
	return Recipient{
		FinalRecipient:    address(field(h, "Final-Recipient")),
		OriginalRecipient: address(field(h, "Original-Recipient")),
		Action:            strings.ToLower(firstWord(field(h, "Action"))),
		Status:            firstWord(field(h, "Status")),
		DiagnosticCode:    field(h, "Diagnostic-Code"),
		RemoteMTA:         field(h, "Remote-MTA"),
	}
}

// field returns a header value with folding undone and its length bounded.
func field(h textproto.Header, k string) string {
	v := strings.Join(strings.Fields(h.Get(k)), " ")
	if len(v) > maxFieldValueSz {
		v = v[:maxFieldValueSz]
	}
	return strings.ToValidUTF8(v, "?")
}

// address strips the address type ("rfc822; a@b" → "a@b") and brackets.
func address(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(v), "<>"))
}

func firstWord(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

func skipBlankLines(br *bufio.Reader) {
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != '\r' && b[0] != '\n') {
			return
		}
		_, _ = br.ReadByte()
	}
}

// readHeader reads a returned header; a header cut short (headers-only
// parts often end without the blank line) still counts.
func readHeader(body io.Reader) (textproto.Header, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(body, maxHeaderBytes)))
	if h.Len() > 0 {
		return h, nil
	}
	return h, err
}

// tolerable errors leave a part readable as raw bytes.
func tolerable(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}
