package takedown

import (
	"strings"
	"testing"
)

const validReport = `{"report_id":"r-1","url":"http://example.nl/a.jpg","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`

func TestDecodeReportValid(t *testing.T) {
	t.Parallel()
	in := `{"report_id":"r-1","url":"https://example.nl/a.jpg","confirmed_at":"2026-11-26T10:00:00.123+01:00",
	"classification":"B2","media_type":"video","priority":"high","hashes":{"sha256":"` + strings.Repeat("AB", 32) + `"},
	"analyst":"a7","source":"public","partner_ref":"P-9","future_field":{"x":1}}`
	r, err := DecodeReport([]byte(in), 0)
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	if r.Priority != PriorityHigh || r.Classification != ClassB2 || r.MediaType != "video" {
		t.Errorf("got priority %q class %q media %q", r.Priority, r.Classification, r.MediaType)
	}
	if r.Hashes.SHA256 != strings.Repeat("ab", 32) {
		t.Errorf("sha256 = %q, want lowercased", r.Hashes.SHA256)
	}
	if string(r.Extra["future_field"]) != `{"x":1}` {
		t.Errorf("unknown field not kept: %v", r.Extra)
	}
	if r.ConfirmedAt.UnixMilli()%1000 != 123 {
		t.Errorf("confirmed_at lost precision: %v", r.ConfirmedAt)
	}
	d, err := DecodeReport([]byte(validReport), 0)
	if err != nil || d.Priority != PriorityNormal {
		t.Errorf("default priority = %q (err %v), want normal", d.Priority, err)
	}
}

func TestDecodeReportRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		max            int
	}{
		{"not json", `hello`, "not a JSON object", 0},
		{"json array", `[1,2]`, "not a JSON object", 0},
		{"trailing data", validReport + `{}`, "trailing data", 0},
		{"too large", validReport, "over the limit", 10},
		{"missing report_id", `{"url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "report_id: missing", 0},
		{"missing url", `{"report_id":"1","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "url: missing", 0},
		{"missing confirmed_at", `{"report_id":"1","url":"http://e.nl/","classification":"A1"}`, "confirmed_at: missing", 0},
		{"missing classification", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z"}`, "classification: missing", 0},
		{"relative url", `{"report_id":"1","url":"/a.jpg","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "not an absolute URL", 0},
		{"ftp url", `{"report_id":"1","url":"ftp://e.nl/a","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, `scheme "ftp" is not http or https`, 0},
		{"bad time", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"26-11-2026","classification":"A1"}`, "not an RFC 3339 time", 0},
		{"unknown classification", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"C9"}`, "unknown classification", 0},
		{"short md5", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1","hashes":{"md5":"abc"}}`, "hashes.md5: is 3 hex digits, want 32", 0},
		{"non-hex sha1", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1","hashes":{"sha1":"` + strings.Repeat("zz", 20) + `"}}`, "hashes.sha1: not hexadecimal", 0},
		{"unknown hash", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1","hashes":{"crc":"00"}}`, "hashes.crc: unknown hash", 0},
		{"wrong type", `{"report_id":7,"url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "report_id: must be a string", 0},
		{"bad priority", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1","priority":"urgent"}`, "unknown priority", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeReport([]byte(tc.in), tc.max)
			if err == nil {
				t.Fatalf("DecodeReport accepted %s", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeReportListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := DecodeReport([]byte(`{"url":"ftp://x","classification":"Z"}`), 0)
	errs, ok := err.(ReportErrors)
	if !ok {
		t.Fatalf("error is %T, want ReportErrors", err)
	}
	if len(errs) != 4 { // report_id, url, confirmed_at, classification
		t.Errorf("got %d problems (%v), want 4", len(errs), err)
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(validReport))
	f.Add([]byte(`{"report_id":"x","url":"http://a/","confirmed_at":"2026-01-01T00:00:00Z","classification":"baseline","hashes":{"md5":"00000000000000000000000000000000"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeReport(data, 0)
		if err != nil {
			if _, ok := err.(ReportErrors); !ok {
				t.Fatalf("error of type %T, want ReportErrors", err)
			}
			return
		}
		if r.ReportID == "" || r.URL == "" || r.ConfirmedAt.IsZero() || r.Classification == "" {
			t.Fatalf("accepted report missing a required field: %+v", r)
		}
	})
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("state %q not in the table", s)
		}
		for _, next := range s.Transitions() {
			if !next.Valid() {
				t.Errorf("%s -> %q: target not a state", s, next)
			}
		}
	}
	c := Case{State: StateClosed}
	if err := c.MoveTo(StateReceived, "", c.UpdatedAt); err == nil {
		t.Error("closed case moved back to received")
	}
	c = Case{State: StateReceived}
	if err := c.MoveTo(StateEnriched, "ok", c.UpdatedAt); err != nil || c.State != StateEnriched {
		t.Errorf("received -> enriched: %v (state %s)", err, c.State)
	}
}
