package notice

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var sentAt = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func hotline() Hotline {
	return Hotline{Name: "Meldpunt Test", Country: "NL", CountryNames: map[string]string{"nl": "Nederland", "en": "the Netherlands"}, Website: "https://hotline.example", Phone: "+31 20 000 0000"}
}

func items() []Item {
	return []Item{
		{
			CaseID:         "case-0001",
			URL:            "https://files.hoster.example/a/b.jpg",
			IPs:            []string{"192.0.2.10", "2001:db8::10"},
			ConfirmedAt:    time.Date(2026, 11, 26, 8, 12, 0, 0, time.UTC),
			Classification: "A1",
			MediaType:      "image",
			Hashes:         Hashes{SHA256: strings.Repeat("ab", 32), MD5: strings.Repeat("cd", 16)},
			ReportIDs:      []string{"r-100"},
		},
		{
			CaseID:         "case-0002",
			URL:            "http://xn--bcher-kva.example/gallery?id=7",
			IPs:            []string{"192.0.2.11"},
			ConfirmedAt:    time.Date(2026, 11, 26, 8, 40, 0, 0, time.UTC),
			Classification: "baseline",
			ReportIDs:      []string{"r-101", "r-102"},
		},
	}
}

func baseNotice(ref string, kind Kind, lang string, level Level) Notice {
	return Notice{
		Ref: ref, Kind: kind, Lang: lang, Level: level,
		From:     "abuse@hotline.example",
		To:       []string{"abuse@hoster.example"},
		Hotline:  hotline(),
		Deadline: 24 * time.Hour,
		SentAt:   sentAt,
		Items:    items(),
	}
}

// goldenNotices are the notices whose rendering is kept in testdata/.
func goldenNotices() map[string]Notice {
	reminder := baseNotice("TD-2026-11-27-R2D2AA", KindReminder, "nl", LevelHoster)
	reminder.Reminder, reminder.PrevRef = 1, "TD-2026-11-26-7F3K2Q"
	for i := range reminder.Items {
		reminder.Items[i].FirstNoticedAt = sentAt.Add(-24 * time.Hour)
	}
	escalation := baseNotice("TD-2026-11-29-ESC001", KindEscalation, "nl", LevelAuthority)
	escalation.To, escalation.PrevRef, escalation.Deadline = []string{"meldingen@authority.example"}, "TD-2026-11-26-7F3K2Q", time.Hour
	reappeared := baseNotice("TD-2026-12-03-BACK01", KindReappeared, "en", LevelHoster)
	reappeared.Items = reappeared.Items[:1]
	reappeared.Items[0].Reappeared = true
	forward := baseNotice("TD-2026-11-26-FWD001", KindForward, "en", LevelPartner)
	forward.To = []string{"reports@partner.example"}
	cdn := baseNotice("TD-2026-11-26-CDN001", KindFirst, "en", LevelCDN)
	cdn.To = []string{"abuse@cdn.example"}
	xarfFirst := baseNotice("TD-2026-11-26-X4RF01", KindFirst, "nl", LevelHoster)
	xarfFirst.Format, xarfFirst.Items = FormatXARF, xarfFirst.Items[:1]
	xarfReminder := baseNotice("TD-case-0002-R1", KindReminder, "en", LevelHoster)
	xarfReminder.Format, xarfReminder.Items = FormatXARF, xarfReminder.Items[1:]
	xarfReminder.Reminder, xarfReminder.PrevRef = 1, "TD-2026-11-26-X4RF02"
	xarfReminder.Items[0].FirstNoticedAt = sentAt.Add(-24 * time.Hour)
	return map[string]Notice{
		"first-xarf-nl":    xarfFirst,
		"reminder-xarf-en": xarfReminder,
		"first-nl":         baseNotice("TD-2026-11-26-7F3K2Q", KindFirst, "nl", LevelHoster),
		"first-en":         baseNotice("TD-2026-11-26-8G4L3R", KindFirst, "en", LevelHoster),
		"first-cdn-en":     cdn,
		"reminder-nl":      reminder,
		"escalation-nl":    escalation,
		"reappeared-en":    reappeared,
		"forward-partner":  forward,
	}
}

// eachRendering renders every golden notice with the default renderer
// and runs check on it in a parallel subtest of its name.
func eachRendering(t *testing.T, check func(t *testing.T, name string, n Notice, m Message)) {
	t.Helper()
	r, err := NewRenderer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range goldenNotices() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := r.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			check(t, name, n, m)
		})
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	eachRendering(t, func(t *testing.T, name string, n Notice, m Message) {
		text := "Subject: " + m.Subject + "\n\n" + m.Body
		checkGolden(t, filepath.Join("testdata", name+".txt"), []byte(text))
		checkGolden(t, filepath.Join("testdata", name+".eml"), m.Raw)
		again, err := r.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Raw, again.Raw) {
			t.Errorf("two renders of %s differ", n.Ref)
		}
	})
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./pkg/notice -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering; run go test ./pkg/notice -update and review the diff\ngot:\n%s", path, got)
	}
}

func TestRenderHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         Config
		notice      Notice
		wantReplyTo string
		wantMsgID   string
		wantParts   int
	}{
		{
			name:        "plus addressing",
			notice:      baseNotice("TD-1", KindFirst, "nl", LevelHoster),
			wantReplyTo: "abuse+TD-1@hotline.example",
			wantMsgID:   "TD-1@hotline.example",
			wantParts:   3,
		},
		{
			name:        "plain reply-to and own message-id domain",
			cfg:         Config{PlainReplyTo: true, MessageIDDomain: "mail.hotline.example"},
			notice:      baseNotice("TD-2", KindFirst, "en", LevelHoster),
			wantReplyTo: "abuse@hotline.example",
			wantMsgID:   "TD-2@mail.hotline.example",
			wantParts:   3,
		},
		{
			name: "explicit reply-to wins",
			notice: func() Notice {
				n := baseNotice("TD-3", KindFirst, "en", LevelHoster)
				n.ReplyTo = "replies@hotline.example"
				n.Items = n.Items[:1]
				return n
			}(),
			wantReplyTo: "replies@hotline.example",
			wantMsgID:   "TD-3@hotline.example",
			wantParts:   2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewRenderer(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := r.Render(tt.notice)
			if err != nil {
				t.Fatal(err)
			}
			mr, err := mail.CreateReader(bytes.NewReader(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			h := mr.Header
			replyTo, err := h.AddressList("Reply-To")
			if err != nil || len(replyTo) != 1 || replyTo[0].Address != tt.wantReplyTo {
				t.Errorf("Reply-To = %v (%v), want %s", replyTo, err, tt.wantReplyTo)
			}
			if id, _ := h.MessageID(); id != tt.wantMsgID {
				t.Errorf("Message-ID = %q, want %q", id, tt.wantMsgID)
			}
			for key, want := range map[string]string{"Auto-Submitted": "auto-generated", "X-Takedown-Ref": tt.notice.Ref} {
				if got := h.Get(key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			if subj, _ := h.Subject(); !strings.Contains(subj, "["+tt.notice.Ref+"]") {
				t.Errorf("Subject %q lacks the reference", subj)
			}
			if d, _ := h.Date(); !d.Equal(sentAt) {
				t.Errorf("Date = %v, want %v", d, sentAt)
			}
			parts := 0
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				parts++
				if ah, ok := p.Header.(*mail.AttachmentHeader); ok {
					name, _ := ah.Filename()
					if !strings.HasPrefix(name, "xarf-") {
						t.Errorf("attachment name %q", name)
					}
				}
			}
			if parts != tt.wantParts {
				t.Errorf("parts = %d, want %d", parts, tt.wantParts)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*Notice)
		wantErr string
	}{
		{name: "valid", mutate: func(*Notice) {}},
		{name: "ref with space", mutate: func(n *Notice) { n.Ref = "TD 1" }, wantErr: "ref"},
		{name: "unknown kind", mutate: func(n *Notice) { n.Kind = "nag" }, wantErr: "kind"},
		{name: "unknown level", mutate: func(n *Notice) { n.Level = "isp" }, wantErr: "level"},
		{name: "from with name", mutate: func(n *Notice) { n.From = "Hotline <abuse@hotline.example>" }, wantErr: "from"},
		{name: "no recipient", mutate: func(n *Notice) { n.To = nil }, wantErr: "no recipient"},
		{name: "no items", mutate: func(n *Notice) { n.Items = nil }, wantErr: "no items"},
		{name: "bad classification", mutate: func(n *Notice) { n.Items[0].Classification = "C" }, wantErr: "classification"},
		{name: "zero sent_at", mutate: func(n *Notice) { n.SentAt = time.Time{} }, wantErr: "sent_at"},
		{name: "x-arf mail of two urls", mutate: func(n *Notice) { n.Format = FormatXARF }, wantErr: "want one"},
		{name: "x-arf mail of one url", mutate: func(n *Notice) { n.Format, n.Items = FormatXARF, n.Items[:1] }},
		{name: "unknown format", mutate: func(n *Notice) { n.Format = "pdf" }, wantErr: "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := baseNotice("TD-V", KindFirst, "en", LevelHoster)
			tt.mutate(&n)
			err := n.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
