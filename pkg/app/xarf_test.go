package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/simnet/xarfdesk"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestXARFMailsEndToEnd runs the daemon against the simulated internet
// with a hoster that reads X-ARF — once as a contact-book entry that says
// machine_readable, once as the RDAP contact under notify.xarf.default
// per_url: two URLs on it reach it as two X-ARF mails that an intake
// following the transport reads and validates; a reply to one of them and
// a bounce of the other each find their own case, by the plus address and
// by the VERP sender alone.
func TestXARFMailsEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, rcpt string
		mut        func(t *testing.T, cfg *config.Config)
	}{
		{"contact book entry", "desk@hoster-a.nl", func(t *testing.T, cfg *config.Config) {
			book := filepath.Join(t.TempDir(), "contacts.yaml")
			if err := os.WriteFile(book, []byte("contacts:\n  - name: Hoster A desk\n    networks: [185.0.1.0/24]\n    emails: [desk@hoster-a.nl]\n    machine_readable: true\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.Enrich.Contacts.Path = book
		}},
		{"rdap contact by default", "abuse@hoster-a.nl", func(_ *testing.T, cfg *config.Config) { cfg.Notify.XARF.Default = config.XARFPerURL }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			xarfEndToEnd(t, tt.rcpt, func(cfg *config.Config) { tt.mut(t, cfg) })
		})
	}
}

func xarfEndToEnd(t *testing.T, rcpt string, mut func(*config.Config)) {
	f := startFlow(t, func(cfg *config.Config) {
		mut(cfg)
		cfg.Inbound.SMTP.Listen = "127.0.0.1:0"
	})
	d := f.d
	urls := []string{flowURL, "http://www.hoster-a.nl/img/b.jpg"}
	f.hoster.Set("/img/b.jpg", hostersim.Content([]byte("second stand-in")))
	for i, u := range urls {
		d.publish(report(fmt.Sprintf("xarf-%d", i), u), fmt.Sprintf("xarf-%d", i))
	}
	cases := map[string]takedown.Case{} // by URL
	for _, u := range urls {
		cases[u] = d.waitFor(u, takedown.StateNoticed).Case
	}

	sch := xarfdesk.FixtureSchema(t)
	mailOf := map[string]smtpsim.Message{} // by URL
	for _, m := range f.relay.Messages() {
		if m.To[0] != rcpt {
			t.Errorf("mail to %v, want every notice to %s", m.To, rcpt)
		}
		r, err := xarfdesk.Parse(m.Data)
		if err != nil {
			t.Fatalf("the hoster's intake cannot read a notice: %v", err)
		}
		if err := sch.Validate(r.JSON); err != nil {
			t.Errorf("report invalid: %v", err)
		}
		var x notice.XARF
		if err := json.Unmarshal(r.JSON, &x); err != nil {
			t.Fatal(err)
		}
		if c := cases[x.URL]; c.ID != x.CaseID || len(c.Notices) != 1 || c.Notices[0].Ref != x.TakedownRef {
			t.Errorf("report of %s names case %s and notice %s; the case is %s with notices %+v", x.URL, x.CaseID, x.TakedownRef, c.ID, c.Notices)
		}
		mailOf[x.URL] = m
	}
	if len(mailOf) != 2 || len(f.relay.Messages()) != 2 {
		t.Fatalf("hoster got %d mails for %d URLs, want one X-ARF mail per URL", len(f.relay.Messages()), len(mailOf))
	}

	// A reply to the second mail whose subject lost the tag and which
	// quotes no Message-ID: only the plus address says which notice.
	second, err := mail.ReadMessage(bytes.NewReader(mailOf[urls[1]].Data))
	if err != nil {
		t.Fatal(err)
	}
	replyTo, err := mail.ParseAddress(second.Header.Get("Reply-To"))
	if err != nil {
		t.Fatal(err)
	}
	d.sendInbound(rcpt, replyTo.Address, "From: "+rcpt+"\r\nTo: "+replyTo.Address+"\r\nSubject: Ticket 4711 closed\r\nMessage-ID: <t4711@hoster-a.nl>\r\n\r\nWe removed it.\r\n")

	// A bounce of the first mail that returns nothing of it: only the
	// VERP envelope recipient says which notice.
	first := mailOf[urls[0]]
	if !strings.Contains(first.From, "+bounce-"+cases[urls[0]].Notices[0].Ref+"-") {
		t.Fatalf("first mail sent from %s, want its VERP address", first.From)
	}
	d.sendInbound("", first.From, strings.Join([]string{
		"From: MAILER-DAEMON@mx.hoster-a.nl", "To: " + first.From, "Subject: Undelivered Mail Returned to Sender",
		"Message-Id: <b-1@mx.hoster-a.nl>", "MIME-Version: 1.0", `Content-Type: multipart/report; report-type=delivery-status; boundary="B"`, "",
		"--B", "Content-Type: text/plain", "", "Your message could not be delivered.", "",
		"--B", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.hoster-a.nl", "",
		"Final-Recipient: rfc822; " + rcpt, "Action: failed", "Status: 5.1.1", "", "--B--", "",
	}, "\r\n"))

	d.waitTimeline(cases[urls[1]].ID, takedown.EventReplied)
	d.waitTimeline(cases[urls[0]].ID, takedown.EventNoticeFailed)
	var v api.CaseView
	d.get("/v1/cases/"+cases[urls[0]].ID, testToken, &v)
	if hasEvent(v, takedown.EventReplied) != nil {
		t.Error("the reply to the second mail was recorded on the first case too")
	}
	v = api.CaseView{}
	d.get("/v1/cases/"+cases[urls[1]].ID, testToken, &v)
	if hasEvent(v, takedown.EventNoticeFailed) != nil || v.Case.Notices[0].Outcome != "sent" {
		t.Errorf("the bounce of the first mail failed the second notice too: %+v", v.Case.Notices)
	}
}

// waitTimeline waits until the case's timeline holds an event of typ.
func (d *daemon) waitTimeline(id string, typ takedown.EventType) {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		var v api.CaseView
		if d.get("/v1/cases/"+id, testToken, &v) == http.StatusOK && hasEvent(v, typ) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("case %s: no %s event on the timeline", id, typ)
}
