// Package dsn reads what mail systems send back to a message's envelope
// sender: delivery status notifications (RFC 3464 multipart/report), the
// plain-text bounces of MTAs that write none (qmail, Exchange, Gmail,
// Exim, …), delay warnings, positive delivery reports, ARF feedback
// reports and automatic replies. For a failed or delayed delivery it
// says, per recipient, the address, the action, the status code and the
// remote server's diagnostic, and names the reason in sisimai's terms
// (userunknown, mailboxfull, filtered, expired, …), so the caller can tell
// an address that is gone for good from a failure that may pass.
//
// The MTA knowledge — how each family lays out its text bounces, which
// wordings mean which reason, which reasons are hard — follows sisimai
// (https://libsisimai.org, BSD-2-Clause, azumakuniyuki and the sisimai
// contributors); the code is ours.
package dsn

import (
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Kind says what a message returned to the envelope sender is.
type Kind string

// Kinds of returned mail.
const (
	// KindNone is ordinary mail: a person's reply, or anything else.
	KindNone Kind = ""
	// KindBounce: delivery failed; the sending server gave up.
	KindBounce Kind = "bounce"
	// KindDelay: delivery is delayed and the sending server keeps trying.
	KindDelay Kind = "delay"
	// KindReport is a report that says nothing failed: a positive DSN
	// (delivered, relayed, expanded) or an ARF feedback report.
	KindReport Kind = "report"
	// KindAutoReply is an out-of-office or other automatic answer.
	KindAutoReply Kind = "auto_reply"
)

// Report is what a returned message says.
type Report struct {
	Kind Kind
	// Format says how it was read: "rfc3464" (a multipart/report),
	// "rfc3464-text" (DSN fields in a text part), "text/<family>" (an
	// MTA's plain-text bounce: qmail, exim, exchange, gmail, …), "arf",
	// or "" for mail that is no report.
	Format string
	// ReportingMTA is the server that wrote the report ("dns; mx.example").
	ReportingMTA string
	// Recipients are the recipients the report is about, failed and
	// delayed ones first.
	Recipients []Recipient
	// Original is the header of the returned message, from its own
	// MIME part or from the text a text bounce quotes; nil if none came
	// back.
	Original *textproto.Header
	// Explanation is the start of the human-readable text.
	Explanation string
}

// Recipient is the outcome for one recipient of the original message.
type Recipient struct {
	Address           string // the failed address (Final-Recipient), lower case
	OriginalRecipient string // the address as first given, if the report says
	// Action is failed, delayed, delivered, relayed or expanded.
	Action string
	// Status is the enhanced status code (5.1.1), read from the Status
	// field or the diagnostic; "" when the report carries none.
	Status string
	// ReplyCode is the remote server's SMTP reply code (550), if quoted.
	ReplyCode string
	// Diagnostic is what the remote server or the MTA said, on one line.
	Diagnostic string
	RemoteMTA  string
	// Command is the SMTP command the remote server refused (RCPT,
	// DATA, …), when the report says.
	Command string
	// Reason is sisimai's name for why: userunknown, hostunknown,
	// hasmoved, notaccept, mailboxfull, filtered, blocked, spamdetected,
	// expired, … ("delivered" for a success, "onhold" or "undefined" when
	// the report does not say).
	Reason string
	// Permanent reports that the address is gone for good (a hard
	// bounce: the reason is userunknown, hostunknown, hasmoved or
	// notaccept). A failure that is not permanent still means this
	// message did not arrive.
	Permanent bool
}

// Failed reports whether delivery to the recipient failed.
func (r Recipient) Failed() bool { return r.Action == "failed" }

// Delayed reports whether delivery to the recipient is only delayed.
func (r Recipient) Delayed() bool { return r.Action == "delayed" }

// First returns the recipient the report is chiefly about: the first
// failed one, else the first delayed one, else the first of any.
func (r Report) First() (Recipient, bool) {
	for _, rc := range r.Recipients {
		if rc.Failed() {
			return rc, true
		}
	}
	for _, rc := range r.Recipients {
		if rc.Delayed() {
			return rc, true
		}
	}
	if len(r.Recipients) > 0 {
		return r.Recipients[0], true
	}
	return Recipient{}, false
}

// For returns the recipient entry for addr (by final or original
// recipient), else First: a forwarding alias may have failed under
// another name.
func (r Report) For(addr string) (Recipient, bool) {
	for _, rc := range r.Recipients {
		if strings.EqualFold(rc.Address, addr) || strings.EqualFold(rc.OriginalRecipient, addr) {
			return rc, true
		}
	}
	return r.First()
}

// IsFailure reports whether the report is about a failed or delayed
// delivery.
func (r Report) IsFailure() bool { return r.Kind == KindBounce || r.Kind == KindDelay }
