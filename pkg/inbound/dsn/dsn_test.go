package dsn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSamples reads the inbound package's own samples: RFC 3464
// reports, a delay warning, a qmail text bounce and mail that is none.
func TestParseSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, format              string
		kind                      Kind
		rcpt, action, status      string
		reason, diagContains      string
		permanent                 bool
		originalMsgID, mtaContain string
	}{
		{file: "dsn-postfix-511.eml", format: "rfc3464", kind: KindBounce, rcpt: "abuse@hoster-a.nl", action: "failed",
			status: "5.1.1", reason: "userunknown", diagContains: "User unknown in virtual mailbox table", permanent: true,
			originalMsgID: "<TD-20261126-7F3K2Q@hotline.example>", mtaContain: "mail.hotline.example"},
		{file: "dsn-exim.eml", format: "rfc3464", kind: KindBounce, rcpt: "abuse@hoster-b.nl", action: "failed",
			status: "5.0.0", diagContains: "550 Mailbox unavailable", originalMsgID: "<TD-20261126-9B4M1X@hotline.example>",
			mtaContain: "relay.hotline.example"},
		{file: "dsn-delayed.eml", format: "rfc3464", kind: KindDelay, rcpt: "abuse@hoster-a.nl", action: "delayed",
			status: "4.4.1", reason: "expired", diagContains: "Connection timed out", originalMsgID: "<TD-20261126-7F3K2Q@hotline.example>"},
		{file: "bounce-qmail.eml", format: "text/qmail", kind: KindBounce, rcpt: "abuse@hoster-a.nl", action: "failed",
			status: "5.1.1", reason: "userunknown", diagContains: "no mailbox here by that name", permanent: true,
			originalMsgID: "<TD-20261126-7F3K2Q@hotline.example>"},
		{file: "reply-plain.eml", kind: KindNone},
		{file: "reply-outlook.eml", kind: KindNone},
		{file: "autoreply-ooo.eml", kind: KindAutoReply},
		{file: "junk.eml", kind: KindNone},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			rep, err := Parse(readSample(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if rep.Kind != tt.kind || rep.Format != tt.format {
				t.Fatalf("kind %q format %q, want %q %q", rep.Kind, rep.Format, tt.kind, tt.format)
			}
			if !rep.IsFailure() {
				return
			}
			rc, ok := rep.First()
			if !ok {
				t.Fatal("no recipient")
			}
			if rc.Address != tt.rcpt || rc.Action != tt.action || rc.Status != tt.status || rc.Permanent != tt.permanent {
				t.Errorf("recipient %+v, want %s %s %s permanent %v", rc, tt.rcpt, tt.action, tt.status, tt.permanent)
			}
			if tt.reason != "" && rc.Reason != tt.reason {
				t.Errorf("reason %q, want %q", rc.Reason, tt.reason)
			}
			if !strings.Contains(rc.Diagnostic, tt.diagContains) {
				t.Errorf("diagnostic %q lacks %q (folded lines must be joined)", rc.Diagnostic, tt.diagContains)
			}
			if rep.Original == nil || rep.Original.Get("Message-Id") != tt.originalMsgID {
				t.Errorf("original header %v, want Message-Id %s", rep.Original, tt.originalMsgID)
			}
			if !strings.Contains(rep.ReportingMTA, tt.mtaContain) {
				t.Errorf("reporting MTA %q lacks %q", rep.ReportingMTA, tt.mtaContain)
			}
		})
	}
}

// TestParseCases covers what the issue found wrong with the first
// parser, each in a small message of its own.
func TestParseCases(t *testing.T) {
	t.Parallel()
	const original = "\n--b\nContent-Type: text/rfc822-headers\n\nMessage-Id: <TD-20261126-7F3K2Q@hotline.example>\n\n--b--\n"
	tests := []struct {
		name, raw string
		kind      Kind
		status    string
		reason    string
		permanent bool
	}{
		{
			name: "mbox From line before the header",
			raw: "From MAILER-DAEMON Thu Nov 26 09:07:12 2026\nFrom: MAILER-DAEMON@mx.example\nSubject: failure notice\n\n" +
				"Hi. This is the qmail-send program at mx.example.\n\n<abuse@hoster.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n",
			kind: KindBounce, status: "5.1.1", reason: "userunknown", permanent: true,
		},
		{
			name: "subject in iso-8859-15, no other sign but a daemon",
			raw: "From: Mail Delivery System <postmaster@mx.example>\nSubject: =?iso-8859-15?q?Zustellung_fehlgeschlagen_=A4?=\n" +
				"Content-Type: text/plain; charset=iso-8859-15\n\nDie Nachricht an <abuse@hoster.example> wurde nicht zugestellt:\n" +
				"abuse@hoster.example: 550 5.2.2 Mailbox voll - mailbox full\n",
			kind: KindBounce, status: "5.2.2", reason: "mailboxfull",
		},
		{
			name: "bounce marked Auto-Submitted: auto-replied is still a bounce",
			raw: "From: postmaster@outlook.example\nAuto-Submitted: auto-replied\nSubject: Undeliverable: notice\n\n" +
				"Delivery has failed to these recipients or groups:\n\nabuse@hoster.example\nThe email address couldn't be found.\n\n" +
				"Diagnostic information for administrators:\n\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n",
			kind: KindBounce, status: "5.1.1", reason: "userunknown", permanent: true,
		},
		{
			name: "multipart/report without report-type",
			raw: "From: MAILER-DAEMON@mx.example\nSubject: Returned mail\nContent-Type: multipart/report; boundary=b\n\n--b\n" +
				"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; abuse@hoster.example\n" +
				"Action: failed\nStatus: 5.1.1\n" + original,
			kind: KindBounce, status: "5.1.1", reason: "userunknown", permanent: true,
		},
		{
			name: "a Received IP is no status code",
			raw: "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.\n\n" +
				"<abuse@hoster.example>: host mx.hoster.example[192.0.2.1] said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)\n\n" +
				"--- Below this line is a copy of the message.\n\nReceived: from [192.2.0.128] by relay.example\nX-Mailer: Version 4.0.994.63\n",
			kind: KindBounce, status: "", reason: "userunknown", permanent: true,
		},
		{
			name: "Exchange version number is no status code",
			raw: "From: postmaster@exchange.example\nSubject: Undeliverable: notice\nX-Mailer: Internet Mail Service (Version 4.0.994.63)\n\n" +
				"Your message did not reach some or all of the intended recipients.\n\nThe following recipient(s) could not be reached:\n\n" +
				"      abuse@hoster.example on 26/11/2026 09:07\n            The recipient name is not recognized\n",
			kind: KindBounce, status: "", reason: "userunknown", permanent: true,
		},
		{
			name: "Action failed with a 4.x.x status: the sender gave up, a soft failure",
			raw: "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n" +
				"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; abuse@hoster.example\nAction: failed\nStatus: 4.2.2\n" +
				"Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n" + original,
			kind: KindBounce, status: "4.2.2", reason: "mailboxfull",
		},
		{
			name: "Auto reply: subject is an automatic reply",
			raw:  "From: jan@hoster.example\nSubject: Auto reply: notice\n\nI am away until Monday.\n",
			kind: KindAutoReply,
		},
		{
			name: "a person quoting a bounce is no bounce",
			raw:  "From: jan@hoster.example\nSubject: Re: notice\n\nYour earlier mail could not be delivered to our old address; use this one.\n",
			kind: KindNone,
		},
		{
			name: "positive DSN is a report of no failure",
			raw: "From: MAILER-DAEMON@mx.example\nSubject: Successful Mail Delivery Report\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n" +
				"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; abuse@hoster.example\nAction: delivered\nStatus: 2.0.0\n" + original,
			kind: KindReport,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Parse([]byte(tt.raw))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if rep.Kind != tt.kind {
				t.Fatalf("kind %q (%s), want %q", rep.Kind, rep.Format, tt.kind)
			}
			if !rep.IsFailure() {
				return
			}
			rc, _ := rep.First()
			if rc.Address != "abuse@hoster.example" || rc.Status != tt.status || rc.Reason != tt.reason || rc.Permanent != tt.permanent {
				t.Errorf("recipient %+v, want abuse@hoster.example status %q reason %s permanent %v", rc, tt.status, tt.reason, tt.permanent)
			}
		})
	}
}

func TestFindStatusIgnoresDottedNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"550 5.1.1 user unknown", "5.1.1"},
		{"from [192.2.0.128] said", ""},
		{"Version 4.0.994.63", ""},
		{"no mailbox here by that name. (#5.1.1)", "5.1.1"},
		{"550-5.7.26 Unauthenticated email", "5.7.26"},
		{"status 5.1.1.", "5.1.1"},
	}
	for _, tt := range tests {
		if got := findStatus(tt.in); got != tt.want {
			t.Errorf("findStatus(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
