package xarfdesk

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mail builds a message in the layout of the transport description's
// complete example, with the parts given.
func mail(contentType string, parts ...string) []byte {
	var b strings.Builder
	b.WriteString("From: Example Security <noreply@example.com>\r\nTo: abuse@isp.example.net\r\nSubject: XARF test\r\n")
	b.WriteString("Message-ID: <9a271f0f@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--B\r\n" + p + "\r\n")
	}
	b.WriteString("--B--\r\n")
	return []byte(b.String())
}

const (
	textPart     = "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThis is an automated abuse report."
	feedbackPart = "Content-Type: message/feedback-report\r\nContent-Disposition: inline\r\n\r\nFeedback-Type: xarf\r\nUser-Agent: ExampleSecurity/2.0\r\nVersion: 1\r\n"
	report       = "multipart/report; report-type=feedback-report; boundary=B"
)

func jsonPart(b []byte) string {
	return "Content-Type: application/json; name=xarf.json\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=xarf.json\r\n\r\n" +
		base64.StdEncoding.EncodeToString(b)
}

func sample(t *testing.T) (*Schema, []byte) {
	t.Helper()
	sch := FixtureSchema(t)
	dir, err := FindFixtures()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "samples", "v4", "content-csam.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sch, b
}

// TestParseTheDescribedMail reads a mail laid out as the transport
// description's example, carrying the upstream csam sample.
func TestParseTheDescribedMail(t *testing.T) {
	t.Parallel()
	sch, js := sample(t)
	r, err := Parse(mail(report, textPart, feedbackPart, jsonPart(js)))
	if err != nil {
		t.Fatal(err)
	}
	if r.FeedbackType != "xarf" || r.UserAgent != "ExampleSecurity/2.0" || r.Version != "1" || r.JSONParts != 1 {
		t.Errorf("report = %+v", r)
	}
	if !strings.Contains(r.Text, "automated abuse report") {
		t.Errorf("text = %q", r.Text)
	}
	if err := sch.Validate(r.JSON); err != nil {
		t.Errorf("upstream sample invalid, so the schema setup is wrong: %v", err)
	}
	if err := sch.Validate([]byte(`{"xarf_version":"4.2.0","category":"content","type":"csam"}`)); err == nil {
		t.Error("schema accepted a report without its required fields")
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	_, js := sample(t)
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"multipart/mixed with a json attachment", mail("multipart/mixed; boundary=B", textPart, jsonPart(js)), ErrNotReport},
		{"report of another type", mail("multipart/report; report-type=delivery-status; boundary=B", textPart, feedbackPart, jsonPart(js)), ErrNotReport},
		{"plain ARF feedback type", mail(report, textPart, strings.Replace(feedbackPart, "xarf", "abuse", 1), jsonPart(js)), ErrNotXARF},
		{"no feedback report part", mail(report, textPart, jsonPart(js)), ErrNotXARF},
		{"no json", mail(report, textPart, feedbackPart), ErrNoJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(tt.raw); !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParseKeepsTheLastJSON shows why an X-ARF mail carries one URL: of
// two reports the intake keeps the second and loses the first.
func TestParseKeepsTheLastJSON(t *testing.T) {
	t.Parallel()
	r, err := Parse(mail(report, textPart, feedbackPart, jsonPart([]byte(`{"n":1}`)), jsonPart([]byte(`{"n":2}`))))
	if err != nil {
		t.Fatal(err)
	}
	if r.JSONParts != 2 || string(r.JSON) != `{"n":2}` {
		t.Errorf("parts %d, kept %s; want 2 and the last", r.JSONParts, r.JSON)
	}
}
