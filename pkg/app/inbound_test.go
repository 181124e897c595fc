package app

import (
	"bytes"
	"fmt"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/ctl"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestRepliesAndBouncesEndToEnd boots the daemon with the inbound SMTP
// listener, lets the notify stage send a real notice through a loopback
// relay, then answers it as a hoster would: a reply (recorded, and the URL
// checked at once) and a permanent bounce (the contact is marked failing
// on the case and the next contact gets a first notice; the case stays
// noticed).
func TestRepliesAndBouncesEndToEnd(t *testing.T) {
	t.Parallel()
	d, relay := startMailDaemon(t, nil)

	id := createEnrichedCase(t, d, "0000000000000E01", "abuse@hoster-a.nl", "noc@hoster-a.nl")
	first := d.waitRelayed(relay, "abuse@hoster-a.nl")
	d.waitCase(id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })

	// The hoster replies to the Reply-To address the notice carries.
	hdr, err := mail.ReadMessage(bytes.NewReader(first.Data))
	if err != nil {
		t.Fatal(err)
	}
	replyTo, err := mail.ParseAddress(hdr.Header.Get("Reply-To"))
	if err != nil || !strings.Contains(replyTo.Address, "+TD-") {
		t.Fatalf("notice Reply-To %q (%v), want a plus address with the reference", hdr.Header.Get("Reply-To"), err)
	}
	reply := fmt.Sprintf("From: Abuse Desk <abuse@hoster-a.nl>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <reply-1@hoster-a.nl>\r\nIn-Reply-To: %s\r\n\r\nWe removed the file.\r\n\r\n> quoted notice\r\n",
		replyTo.Address, hdr.Header.Get("Subject"), hdr.Header.Get("Message-Id"))
	d.sendInbound("abuse@hoster-a.nl", replyTo.Address, reply)
	c := d.waitCase(id, func(c takedown.Case) bool { return c.Checks != nil && c.Checks.Checks >= 1 })
	if c.Checks.LastVerdict != "online" {
		t.Errorf("immediate check verdict %q, want online (the hoster has not removed it yet)", c.Checks.LastVerdict)
	}

	// The hoster's MX had accepted the notice, then bounced it for good.
	header, _, _ := bytes.Cut(first.Data, []byte("\r\n\r\n"))
	d.sendInbound("", "abuse@hotline.example", postfixBounce("abuse@hoster-a.nl", string(header)))
	d.waitRelayed(relay, "noc@hoster-a.nl")
	c = d.waitCase(id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed && len(c.Notices) == 2 })
	if !slices.Contains(c.Routing.Failing, "abuse@hoster-a.nl") || c.Notices[0].Outcome != "failed" || c.Notices[1].To != "noc@hoster-a.nl" {
		t.Errorf("after the bounce: failing %v, notices %+v; want abuse@ failing and a notice to noc@", c.Routing.Failing, c.Notices)
	}

	// Everything is on the timeline the API serves.
	var v api.CaseView
	if code := d.get("/v1/cases/"+id, "test-token-reader", &v); code != http.StatusOK {
		t.Fatalf("GET case: %d", code)
	}
	replied, failed := hasEvent(v, takedown.EventReplied), hasEvent(v, takedown.EventNoticeFailed)
	if replied == nil || replied.Actor != "inbound" || !strings.Contains(string(replied.Data), "We removed the file.") || strings.Contains(string(replied.Data), "quoted notice") {
		t.Errorf("replied event %+v, want one by inbound with the reply's own words", replied)
	}
	if failed == nil || failed.Actor != "inbound" || failed.To != takedown.StateNoticed || !strings.Contains(string(failed.Data), "5.1.1") {
		t.Errorf("notice_failed event %+v, want one by inbound with status 5.1.1 leaving the case noticed", failed)
	}
	if hasEvent(v, takedown.EventChecked) == nil {
		t.Error("no checked event after the reply")
	}

	// The same reply delivered again (a second MX) records nothing new.
	d.sendInbound("abuse@hoster-a.nl", replyTo.Address, reply)
	v = api.CaseView{}
	d.get("/v1/cases/"+id, testToken, &v)
	n := 0
	for _, ev := range v.Timeline {
		if ev.Type == takedown.EventReplied {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d replied events after a duplicate delivery, want 1", n)
	}
}

// TestInboundDropDirectory: a message placed in inbound.dir that matches
// no notice moves to failed/ and is readable as a dead letter.
func TestInboundDropDirectory(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	cfg.Inbound.Dir = filepath.Join(cfg.DataDir, "inbound")
	cfg.Inbound.PollInterval = 50 * time.Millisecond
	d := startDaemon(t, cfg)
	if d.app.InboundAddr() != "" {
		t.Error("an SMTP listener runs though none is configured")
	}
	msg := "From: spam@elsewhere.example\r\nSubject: offer\r\nMessage-ID: <s1@elsewhere.example>\r\n\r\nbuy now\r\n"
	// As an MTA delivers to a maildir: write into tmp/, rename into new/.
	const name = "1764147940.M1P1.mx.hotline.example"
	for _, sub := range []string{"tmp", "new"} {
		if err := os.MkdirAll(filepath.Join(cfg.Inbound.Dir, sub), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.Inbound.Dir, "tmp", name), []byte(msg), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(cfg.Inbound.Dir, "tmp", name), filepath.Join(cfg.Inbound.Dir, "new", name)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for {
		if _, err := os.Stat(filepath.Join(cfg.Inbound.Dir, "failed", name)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached failed/")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var resp struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if code := d.get("/v1/dlq", testToken, &resp); code != http.StatusOK {
		t.Fatalf("GET /v1/dlq: %d", code)
	}
	list := resp.DeadLetters
	if len(list) != 1 || list[0].Subject != "takedown.dlq.inbound" || !strings.Contains(list[0].Reason, "no notice reference") {
		t.Fatalf("dead letters %+v, want the message with its reason", list)
	}
	if string(list[0].Data) != msg {
		t.Errorf("dead letter holds %q, want the whole message %q", list[0].Data, msg)
	}
	// Mail is for reading; it cannot be resubmitted as a report.
	r := d.ctl(nil, "", "dlq", "resubmit", strconv.FormatUint(list[0].Seq, 10))
	r.want(t, ctl.ExitUsage, "resubmit an inbound dead letter")
	if !strings.Contains(r.stderr, "not a rejected report") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// startMailDaemon boots the daemon with a loopback relay (no batching
// window), the inbound SMTP listener, and a hoster at hoster.test that
// serves /material.jpg; mut changes the config before the start.
func startMailDaemon(t *testing.T, mut func(*config.Config)) (*daemon, *smtpsim.Server) {
	t.Helper()
	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	hoster := hostersim.Start(t)
	hoster.Set("/material.jpg", hostersim.Content([]byte("confirmed")))
	cfg := testConfig(t.TempDir())
	cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port, cfg.Notify.SMTP.TLS = relay.Host(), relay.Port(), "none"
	cfg.Notify.BatchWindow = 0
	cfg.Recheck.Probe.AllowPrivate = true
	cfg.Recheck.Probe.ConnectTo = map[string]string{"hoster.test:80": hoster.Addr()}
	cfg.Inbound.SMTP.Listen = "127.0.0.1:0"
	if mut != nil {
		mut(&cfg)
	}
	d := startDaemon(t, cfg)
	if d.app.InboundAddr() == "" {
		t.Fatal("no inbound listener")
	}
	return d, relay
}

// createEnrichedCase stores a case as enrichment leaves it, with two abuse
// contacts of a Dutch hoster, and asks the route stage to route it.
func createEnrichedCase(t *testing.T, d *daemon, id string, contacts ...string) string {
	t.Helper()
	now := time.Now().UTC()
	e := &takedown.Enrichment{At: now, Host: "hoster.test", Country: takedown.CountryDecision{Rule: "agree", Country: "NL"}}
	for _, c := range contacts {
		e.Contacts = append(e.Contacts, takedown.Contact{Email: c, Role: "hoster", Source: takedown.Source{Kind: "config"}})
	}
	c := takedown.Case{
		ID: id, URL: "http://hoster.test/material.jpg", OriginalURL: "http://hoster.test/material.jpg", Host: "hoster.test",
		State: takedown.StateEnriched, ReceivedAt: now, Priority: takedown.PriorityNormal, Classification: "A1",
		Reports:    []takedown.ReportRef{{ReportID: "r-" + id, ReceivedAt: now, ConfirmedAt: now, Classification: "A1"}},
		Enrichment: e, ReportCount: 1,
	}
	st := d.app.Store()
	if _, err := st.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(t.Context(), store.StageRoute, id, "route-"+id, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitRelayed waits for a message to rcpt at the relay.
func (d *daemon) waitRelayed(relay *smtpsim.Server, rcpt string) smtpsim.Message {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		for _, m := range relay.Messages() {
			if slices.Contains(m.To, rcpt) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("no message to %s reached the relay", rcpt)
	return smtpsim.Message{}
}

// waitCase waits until the stored case satisfies ok.
func (d *daemon) waitCase(id string, ok func(takedown.Case) bool) takedown.Case {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		c, _, err := d.app.Store().GetCase(d.t.Context(), id)
		if err != nil {
			d.t.Fatal(err)
		}
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("case %s never reached the expected state: %+v", id, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendInbound delivers a message to the daemon's inbound listener as an
// MTA would; the 250 means it is recorded.
func (d *daemon) sendInbound(from, rcpt, msg string) {
	d.t.Helper()
	c, err := gosmtp.Dial(d.app.InboundAddr())
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{rcpt}, strings.NewReader(msg)); err != nil {
		d.t.Fatalf("deliver to inbound: %v", err)
	}
}

// postfixBounce is a Postfix non-delivery report for a message to rcpt,
// returning the original's header.
func postfixBounce(rcpt, originalHeader string) string {
	return strings.Join([]string{
		"From: MAILER-DAEMON@mail.hotline.example (Mail Delivery System)",
		"To: abuse@hotline.example",
		"Subject: Undelivered Mail Returned to Sender",
		"Message-Id: <bounce-1@mail.hotline.example>",
		"Auto-Submitted: auto-replied",
		"MIME-Version: 1.0",
		`Content-Type: multipart/report; report-type=delivery-status; boundary="B"`,
		"",
		"--B",
		"Content-Type: text/plain; charset=us-ascii",
		"",
		"I'm sorry to have to inform you that your message could not be delivered.",
		"",
		"--B",
		"Content-Type: message/delivery-status",
		"",
		"Reporting-MTA: dns; mail.hotline.example",
		"",
		"Final-Recipient: rfc822; " + rcpt,
		"Action: failed",
		"Status: 5.1.1",
		"Diagnostic-Code: smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown",
		"",
		"--B",
		"Content-Type: text/rfc822-headers",
		"",
		originalHeader,
		"",
		"--B--",
		"",
	}, "\r\n")
}
