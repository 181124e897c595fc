package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/simnet/xarfdesk"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
)

// caseFor stores an enriched case whose hoster contacts are cts and asks
// for its routing.
func (h *harness) caseFor(url string, cts ...takedown.Contact) string {
	h.t.Helper()
	return h.enrichedCaseWith("NL", url, takedown.PriorityNormal, func(e *takedown.Enrichment) { e.Contacts = cts })
}

// The contacts of these tests: one from the contact book that asks for
// X-ARF, one from the book that does not, one RDAP found.
var (
	bookXARF  = takedown.Contact{Email: "abuse@automated.nl", Role: "hoster", Source: takedown.Source{Kind: "contact_book"}, MachineReadable: true}
	bookHuman = takedown.Contact{Email: "abuse@people.nl", Role: "hoster", Source: takedown.Source{Kind: "contact_book"}}
	rdapFound = takedown.Contact{Email: "abuse@rdap.nl", Role: "hoster", Source: takedown.Source{Kind: "rdap_ip"}}
)

// desk is what an automated intake that follows the X-ARF e-mail
// transport took from one mail the relay accepted.
type desk struct {
	msg    smtpsim.Message
	report xarfdesk.Report
	xarf   notice.XARF
}

// readAsDesk parses every mail to rcpt the way the transport's reference
// parser does and validates each report against the v4 schema.
func readAsDesk(t *testing.T, msgs []smtpsim.Message, rcpt string) []desk {
	t.Helper()
	sch := xarfdesk.FixtureSchema(t)
	var out []desk
	for _, m := range msgs {
		if m.To[0] != rcpt {
			continue
		}
		r, err := xarfdesk.Parse(m.Data)
		if err != nil {
			t.Fatalf("the desk of %s cannot read a mail: %v", rcpt, err)
		}
		if r.JSONParts != 1 {
			t.Errorf("mail carries %d reports; the desk keeps only the last", r.JSONParts)
		}
		if err := sch.Validate(r.JSON); err != nil {
			t.Errorf("report invalid against the X-ARF v4 schema: %v\n%s", err, r.JSON)
		}
		d := desk{msg: m, report: r}
		if err := json.Unmarshal(r.JSON, &d.xarf); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestMachineReadableContactGetsOneXARFMailPerURL: a contact-book entry
// that asks for machine-readable mail gets each URL as a mail of its own
// in the X-ARF transport shape, at once, while a batched contact's URLs
// wait in their window. Every mail names its one notice in every place
// inbound matches on (Message-ID, Reply-To plus address, VERP sender,
// subject tag), and its report names the same reference and case.
func TestMachineReadableContactGetsOneXARFMailPerURL(t *testing.T) {
	t.Parallel()
	signer, err := verp.New("abuse@hotline.example", []byte("notify verp test secret, 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = time.Hour }, nil, func(o *Options) { o.VERP = signer })
	urls := map[string]string{} // case id -> url
	for i := range 3 {
		url := fmt.Sprintf("http://host.example.nl/x/%d.jpg", i)
		urls[h.caseFor(url, bookXARF)] = url
	}
	waiting := h.caseFor("http://host.example.nl/batched.jpg", rdapFound)

	desks := readAsDesk(t, h.waitMessages(3), bookXARF.Email)
	if len(desks) != 3 {
		t.Fatalf("desk got %d mails, want one per URL (3)", len(desks))
	}
	refs := map[string]bool{}
	for _, d := range desks {
		ref := d.xarf.TakedownRef
		if refs[ref] {
			t.Errorf("two mails share reference %s", ref)
		}
		refs[ref] = true
		if urls[d.xarf.CaseID] != d.xarf.URL {
			t.Errorf("report names case %s with %s, want %s", d.xarf.CaseID, d.xarf.URL, urls[d.xarf.CaseID])
		}
		if !strings.Contains(d.report.Text, d.xarf.URL) || !strings.Contains(d.report.Text, "Referentie: "+ref) || !strings.Contains(d.report.Text, "Reference: "+ref) {
			t.Errorf("text part lacks the URL or the Dutch and English text:\n%s", d.report.Text)
		}
		if got, ok, isVERP := signer.Parse(d.msg.From); !isVERP || !ok || got != ref {
			t.Errorf("MAIL FROM %s names %q (verifies %v), want %s", d.msg.From, got, ok, ref)
		}
		for key, want := range map[string]string{"Message-Id": "<" + ref + "@hotline.example>", "Reply-To": "abuse+" + ref + "@hotline.example", "Subject": "[" + ref + "]", "X-Takedown-Ref": ref} {
			if got := header(t, d.msg.Data, key); !strings.Contains(got, want) {
				t.Errorf("%s %q lacks %s", key, got, want)
			}
		}
		c := h.waitState(d.xarf.CaseID, takedown.StateNoticed)
		if len(c.Notices) != 1 || c.Notices[0].Ref != ref || c.Notices[0].MessageID != ref+"@hotline.example" {
			t.Errorf("case %s notices %+v, want the one notice %s", c.ID, c.Notices, ref)
		}
		rec, err := h.stage.Notice(t.Context(), ref)
		if err != nil || rec.Format != takedown.NoticeFormatXARF || len(rec.Items) != 1 || rec.Priority {
			t.Errorf("notice record %+v (%v), want format xarf, one item, not priority", rec, err)
		}
	}
	if c, _, _ := h.store.GetCase(t.Context(), waiting); c.State != takedown.StateRouted {
		t.Errorf("batched contact's case is %s, want routed (waiting in its hour-long window)", c.State)
	}
}

// TestXARFDefaultDecidesForRDAPContactsOnly: with notify.xarf.default
// per_url the contacts RDAP found get X-ARF mails, one per URL, while a
// contact-book entry without machine_readable keeps the batched notice,
// which the desk refuses whole instead of reading one report of many.
func TestXARFDefaultDecidesForRDAPContactsOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) {
		c.BatchWindow = 300 * time.Millisecond
		c.XARF.Default = config.XARFPerURL
	}, nil)
	var ids, booked []string
	for i := range 2 {
		ids = append(ids, h.caseFor(fmt.Sprintf("http://host.example.nl/r/%d.jpg", i), rdapFound))
		u := fmt.Sprintf("http://host.example.nl/p/%d.jpg", i)
		ids, booked = append(ids, h.caseFor(u, bookHuman)), append(booked, u)
	}
	for _, id := range ids {
		h.waitState(id, takedown.StateNoticed)
	}
	msgs := h.relay.Messages()
	if got := len(readAsDesk(t, msgs, rdapFound.Email)); got != 2 {
		t.Errorf("RDAP contact got %d X-ARF mails, want 2", got)
	}
	// Whether the two booked URLs share a batch depends on how fast they
	// were routed; what matters is the shape of every mail they are in.
	for _, m := range msgs {
		if m.To[0] != bookHuman.Email {
			continue
		}
		if _, err := xarfdesk.Parse(m.Data); !errors.Is(err, xarfdesk.ErrNotReport) {
			t.Errorf("desk read the batched notice: %v, want it refused whole", err)
		}
		for i, u := range booked {
			if bytes.Contains(m.Data, []byte(u)) {
				booked[i] = ""
			}
		}
	}
	if strings.Join(booked, "") != "" {
		t.Errorf("booked URLs %v reached no batched notice", booked)
	}
}

// TestXARFResendIsTheSameMessage loses the relay's answer to the first
// delivery of an X-ARF mail, as a crash between sending and recording
// would: the resend is the same bytes, with the same Message-ID.
func TestXARFResendIsTheSameMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, func(m Mailer) Mailer { return &lostAck{Mailer: m} })
	id := h.caseFor("http://host.example.nl/x.jpg", bookXARF)
	msgs := h.waitMessages(2)
	h.waitState(id, takedown.StateNoticed)
	if !bytes.Equal(msgs[0].Data, msgs[1].Data) {
		t.Error("the resend differs from the first send")
	}
	if d := readAsDesk(t, msgs, bookXARF.Email); len(d) != 2 || d[0].xarf.ReportID != d[1].xarf.ReportID {
		t.Error("the resend's report id differs, so the desk would open a second ticket")
	}
}

// TestXARFContactsReminderIsAnXARFMail: a reminder to a contact that
// takes X-ARF is itself an X-ARF mail about the one URL, referring to the
// first notice.
func TestXARFContactsReminderIsAnXARFMail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, nil)
	id := h.caseFor("http://host.example.nl/x.jpg", bookXARF)
	first := h.waitState(id, takedown.StateNoticed).Notices[0].Ref
	if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "remind", []byte(`{"kind":"reminder","level":"hoster","reminder":1}`)); err != nil {
		t.Fatal(err)
	}
	d := readAsDesk(t, h.waitMessages(2), bookXARF.Email)
	if len(d) != 2 {
		t.Fatalf("desk got %d mails, want the notice and the reminder", len(d))
	}
	r := d[1]
	if header(t, r.msg.Data, "X-Takedown-Kind") != "reminder" || !strings.Contains(header(t, r.msg.Data, "References"), first) {
		t.Errorf("second mail is %q with References %q, want a reminder referring to %s", header(t, r.msg.Data, "X-Takedown-Kind"), header(t, r.msg.Data, "References"), first)
	}
	if !strings.Contains(strings.Join(r.xarf.Tags, " "), "notice:reminder") || r.xarf.CaseID != id {
		t.Errorf("reminder report tags %v case %s", r.xarf.Tags, r.xarf.CaseID)
	}
}
