package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestBounceOnlyWidensWhoIsTold runs the rules of takedown.DeliveryRules
// through the whole daemon:
//   - A forged DSN (from anyone, quoting a real notice's Message-ID) only
//     escalates: the case stays noticed with its check pending, the next
//     contact gets a first notice, and no other case skips the address.
//   - A VERP-verified bounce of an address gone for good marks it failing
//     for every case: the next new case for the hoster goes straight to
//     the next contact.
//   - With every contact failing the case goes to review, with the reason,
//     and keeps its checks (a check on demand is accepted).
func TestBounceOnlyWidensWhoIsTold(t *testing.T) {
	t.Parallel()
	// Checks far apart: a pending schedule is what the test looks at.
	d, relay := startMailDaemon(t, func(cfg *config.Config) { cfg.Recheck.Cadence = []time.Duration{time.Hour} })

	first := createEnrichedCase(t, d, "0000000000000B01", "abuse@hoster-a.nl", "noc@hoster-a.nl")
	notice := d.waitRelayed(relay, "abuse@hoster-a.nl")
	d.waitCase(first, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	d.waitSchedule(first)

	// Anyone who saw the notice can write this: a bounce from a stranger
	// that quotes the notice's headers.
	header, _, _ := bytes.Cut(notice.Data, []byte("\r\n\r\n"))
	forged := strings.Replace(postfixBounce("abuse@hoster-a.nl", string(header)), "MAILER-DAEMON@mail.hotline.example", "mailer-daemon@attacker.example", 1)
	d.sendInbound("", "abuse@hotline.example", forged)
	d.waitRelayed(relay, "noc@hoster-a.nl")
	c := d.waitCase(first, func(c takedown.Case) bool {
		return len(c.Notices) == 2 && c.Notices[1].Outcome == "sent"
	})
	if c.State != takedown.StateNoticed || c.Notices[0].Outcome != "failed" || c.Notices[1].To != "noc@hoster-a.nl" {
		t.Errorf("after the forged bounce: state %s, notices %+v; want noticed, abuse@ failed, noc@ told", c.State, c.Notices)
	}
	d.waitSchedule(first)
	v := d.caseView(first)
	for _, ev := range v.Timeline {
		if ev.To != "" && ev.To != takedown.StateNoticed && ev.Type != takedown.EventReceived && ev.Type != takedown.EventRouted {
			t.Errorf("%s event moved the case to %s: a bounce must not move a noticed case back", ev.Type, ev.To)
		}
	}
	var data struct {
		MarksFailing *bool `json:"marks_failing"`
	}
	if failed := hasEvent(v, takedown.EventNoticeFailed); failed == nil || json.Unmarshal(failed.Data, &data) != nil || data.MarksFailing == nil || *data.MarksFailing {
		t.Errorf("notice_failed %+v, want it recorded as marking nothing", failed)
	}
	// Not evidence for other cases: a new case of the hoster is mailed at
	// abuse@ as before.
	second := createEnrichedCase(t, d, "0000000000000B02", "abuse@hoster-a.nl", "noc@hoster-a.nl")
	c = d.waitCase(second, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	if c.Notices[0].To != "abuse@hoster-a.nl" {
		t.Errorf("second case noticed at %s, want abuse@ (a forged bounce marks nothing for other cases)", c.Notices[0].To)
	}

	// The hoster's MX bounces the second notice to its VERP address: the
	// address is gone for every case.
	signer, err := d.app.verpSigner()
	if err != nil || signer == nil {
		t.Fatalf("verp signer: %v", err)
	}
	d.sendInbound("", signer.Address(c.Notices[0].Ref), bareQmailBounce("abuse@hoster-a.nl", "verp-"+c.Notices[0].Ref))
	d.waitCase(second, func(c takedown.Case) bool { return len(c.Notices) == 2 && c.Notices[1].To == "noc@hoster-a.nl" })
	if marked, err := d.app.health.Failing(t.Context(), []string{"abuse@hoster-a.nl"}); err != nil || len(marked) != 1 {
		t.Fatalf("contact health %v (%v), want abuse@hoster-a.nl failing", marked, err)
	}
	third := createEnrichedCase(t, d, "0000000000000B03", "abuse@hoster-a.nl", "noc@hoster-a.nl")
	c = d.waitCase(third, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	if len(c.Notices) != 1 || c.Notices[0].To != "noc@hoster-a.nl" {
		t.Errorf("third case notices %+v, want one, to noc@ (abuse@ skipped)", c.Notices)
	}

	// noc@ bounces the first case's notice too: nobody is left.
	nocNotice := d.caseView(first).Case.Notices[1]
	d.sendInbound("", signer.Address(nocNotice.Ref), bareQmailBounce("noc@hoster-a.nl", "verp-"+nocNotice.Ref))
	c = d.waitCase(first, func(c takedown.Case) bool { return c.State == takedown.StateReview })
	if !strings.Contains(c.StateReason, "every contact failed") {
		t.Errorf("review reason %q, want every contact failed", c.StateReason)
	}
	d.waitSchedule(first)
	if code := d.post("/v1/cases/"+first+"/check", testToken); code != http.StatusAccepted {
		t.Errorf("check on demand of the case in review: %d, want 202 (it is still watched)", code)
	}
	d.waitCase(first, func(c takedown.Case) bool { return c.Checks != nil && c.Checks.Checks >= 1 })
}

// bareQmailBounce is a qmail bounce of a message to rcpt that returns
// nothing of the original: only its envelope recipient names the notice.
func bareQmailBounce(rcpt, id string) string {
	return "From: MAILER-DAEMON@mx.hoster-a.nl\r\nTo: abuse@hotline.example\r\nSubject: failure notice\r\nMessage-ID: <" + id + "@mx.hoster-a.nl>\r\n\r\n" +
		"Hi. This is the qmail-send program at mx.hoster-a.nl.\r\nI'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n" +
		"<" + rcpt + ">:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
}

// waitSchedule waits until the case has its re-check pending in
// TAKEDOWN_CHECKS (a schedule, or a fired check not yet done).
func (d *daemon) waitSchedule(id string) {
	d.t.Helper()
	stream, err := d.js.Stream(d.t.Context(), recheck.ScheduleStream)
	if err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for {
		for _, subj := range []string{recheck.SchedulePrefix + id, recheck.DuePrefix + id} {
			_, err := stream.GetLastMsgForSubject(d.t.Context(), subj)
			if err == nil {
				return
			}
			if !errors.Is(err, jetstream.ErrMsgNotFound) {
				d.t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("case %s has no check pending", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caseView reads a case and its timeline through the API.
func (d *daemon) caseView(id string) api.CaseView {
	d.t.Helper()
	var v api.CaseView
	if code := d.get("/v1/cases/"+id, testToken, &v); code != http.StatusOK {
		d.t.Fatalf("GET case %s: %d", id, code)
	}
	return v
}
