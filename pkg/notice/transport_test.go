package notice

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"github.com/takedownd/takedownd/pkg/simnet/xarfdesk"
)

// TestDeskReadsEveryXARFMail reads every golden notice as an automated
// abuse desk that follows the X-ARF e-mail transport does: an X-ARF mail
// yields its one report, valid against the v4 schema, and the bilingual
// text; a batched notice is refused as a whole rather than read in part.
func TestDeskReadsEveryXARFMail(t *testing.T) {
	t.Parallel()
	sch := xarfdesk.FixtureSchema(t)
	eachRendering(t, func(t *testing.T, _ string, n Notice, m Message) {
		rep, err := xarfdesk.Parse(m.Raw)
		if n.Format != FormatXARF {
			if !errors.Is(err, xarfdesk.ErrNotReport) {
				t.Errorf("desk read a batched notice of %d URLs: %v, want it refused whole", len(n.Items), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("desk refused the X-ARF mail: %v", err)
		}
		if rep.FeedbackType != "xarf" || rep.UserAgent != DefaultUserAgent || rep.Version != "1" || rep.JSONParts != 1 {
			t.Errorf("feedback report %q %q %q with %d json parts", rep.FeedbackType, rep.UserAgent, rep.Version, rep.JSONParts)
		}
		if err := sch.Validate(rep.JSON); err != nil {
			t.Errorf("report invalid: %v\n%s", err, rep.JSON)
		}
		var x XARF
		if err := json.Unmarshal(rep.JSON, &x); err != nil {
			t.Fatal(err)
		}
		if x.URL != n.Items[0].URL || x.TakedownRef != n.Ref || x.CaseID != n.Items[0].CaseID {
			t.Errorf("report names %s (%s, %s), want %s of %s", x.URL, x.TakedownRef, x.CaseID, n.Items[0].URL, n.Ref)
		}
		if !strings.Contains(rep.Text, n.Items[0].URL) || !strings.Contains(rep.Text, "Reference: "+n.Ref) {
			t.Errorf("text part lacks the URL or the reference:\n%s", rep.Text)
		}
		if n.Lang == "nl" && !strings.Contains(rep.Text, "Referentie: "+n.Ref) {
			t.Errorf("Dutch notice lacks its Dutch text:\n%s", rep.Text)
		}
		if id, _ := rep.Header.Text("Message-Id"); id != "<"+m.MessageID+">" {
			t.Errorf("Message-ID %q, want <%s>", id, m.MessageID)
		}
	})
}

// TestXARFMailParts checks the order and headers of the three parts the
// transport requires, and that nothing else is in the mail.
func TestXARFMailParts(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(Config{UserAgent: "takedownd/test"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render(goldenNotices()["first-xarf-nl"])
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	mr := e.MultipartReader()
	ct, params, _ := e.Header.ContentType()
	if ct != "multipart/report" || params["report-type"] != "feedback-report" {
		t.Fatalf("Content-Type %s %v", ct, params)
	}
	wantTypes := []string{"text/plain", "message/feedback-report", "application/json"}
	var got []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		typ, _, _ := p.Header.ContentType()
		got = append(got, typ)
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(p.Body)
		switch typ {
		case "message/feedback-report":
			for _, want := range []string{"Feedback-Type: xarf\r\n", "User-Agent: takedownd/test\r\n", "Version: 1\r\n", "Reported-Domain: files.hoster.example\r\n"} {
				if !strings.Contains(body.String(), want) {
					t.Errorf("feedback report lacks %q:\n%s", want, body)
				}
			}
		case "application/json":
			if _, dp, _ := p.Header.ContentDisposition(); dp["filename"] != XARFFilename {
				t.Errorf("report attached as %q, want %s", dp["filename"], XARFFilename)
			}
			if !bytes.Equal(body.Bytes(), m.XARF[0]) {
				t.Error("attached report differs from the rendered one")
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(wantTypes, " ") {
		t.Errorf("parts %v, want %v", got, wantTypes)
	}
	if _, err := NewRenderer(Config{UserAgent: "takedownd\r\nBcc: x@example"}); err == nil {
		t.Error("a user agent with a line break was accepted")
	}
}
