package dsn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

func readSample(t *testing.T, name string) *message.Entity {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file                  string
		mta, rcpt, action, status   string
		diagContains, originalMsgID string
		permanent, temporary        bool
		explanationContains         string
	}{
		{
			name: "postfix 5.1.1 with the whole original", file: "dsn-postfix-511.eml",
			mta: "dns; mail.hotline.example", rcpt: "abuse@hoster-a.nl", action: "failed", status: "5.1.1",
			diagContains: "User unknown in virtual mailbox table", originalMsgID: "<TD-20261126-7F3K2Q@hotline.example>",
			permanent: true, explanationContains: "could not",
		},
		{
			name: "exim with headers only and a generic 5.0.0", file: "dsn-exim.eml",
			mta: "dns; relay.hotline.example", rcpt: "abuse@hoster-b.nl", action: "failed", status: "5.0.0",
			diagContains: "550 Mailbox unavailable", originalMsgID: "<TD-20261126-9B4M1X@hotline.example>",
			permanent: true, explanationContains: "permanent error",
		},
		{
			name: "postfix delay warning", file: "dsn-delayed.eml",
			mta: "dns; mail.hotline.example", rcpt: "abuse@hoster-a.nl", action: "delayed", status: "4.4.1",
			diagContains: "Connection timed out", originalMsgID: "<TD-20261126-7F3K2Q@hotline.example>",
			temporary: true, explanationContains: "WARNING ONLY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Parse(readSample(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if rep.ReportingMTA != tt.mta {
				t.Errorf("reporting MTA %q, want %q", rep.ReportingMTA, tt.mta)
			}
			if len(rep.Recipients) != 1 {
				t.Fatalf("%d recipients, want 1: %+v", len(rep.Recipients), rep.Recipients)
			}
			rc := rep.Recipients[0]
			if rc.FinalRecipient != tt.rcpt || rc.Action != tt.action || rc.Status != tt.status {
				t.Errorf("recipient %+v, want %s %s %s", rc, tt.rcpt, tt.action, tt.status)
			}
			if !strings.Contains(rc.DiagnosticCode, tt.diagContains) {
				t.Errorf("diagnostic %q lacks %q (folded lines must be joined)", rc.DiagnosticCode, tt.diagContains)
			}
			if rc.Permanent() != tt.permanent || rc.Temporary() != tt.temporary {
				t.Errorf("permanent %v temporary %v, want %v %v", rc.Permanent(), rc.Temporary(), tt.permanent, tt.temporary)
			}
			if rep.Original == nil || rep.Original.Get("Message-Id") != tt.originalMsgID {
				t.Errorf("original header %v, want Message-Id %s", rep.Original, tt.originalMsgID)
			}
			if !strings.Contains(rep.Explanation, tt.explanationContains) {
				t.Errorf("explanation %q lacks %q", rep.Explanation, tt.explanationContains)
			}
		})
	}
}

func TestParseRefusesOtherMessages(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file string }{
		{"plain reply", "reply-plain.eml"},
		{"multipart alternative", "reply-outlook.eml"},
		{"plain-text bounce", "bounce-qmail.eml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(readSample(t, tt.file)); !errors.Is(err, ErrNotDSN) {
				t.Errorf("Parse = %v, want ErrNotDSN", err)
			}
		})
	}
}

func TestParseReportWithoutStatusPart(t *testing.T) {
	t.Parallel()
	raw := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
	e, err := message.Read(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(e); !errors.Is(err, ErrNotDSN) {
		t.Errorf("Parse = %v, want ErrNotDSN", err)
	}
}
