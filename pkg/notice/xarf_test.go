package notice

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/xarfdesk"
)

func TestXARFValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	sch := xarfdesk.FixtureSchema(t)
	for name, n := range goldenNotices() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parts, err := MarshalXARF(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != len(n.Items) {
				t.Fatalf("got %d parts for %d items", len(parts), len(n.Items))
			}
			for i, p := range parts {
				if err := sch.Validate(p); err != nil {
					t.Errorf("part %d invalid: %v\n%s", i+1, err, p)
				}
			}
		})
	}
}

// TestXARFSchemaRejects makes sure the validation above can fail: reports
// broken in ways the schema forbids must not pass.
func TestXARFSchemaRejects(t *testing.T) {
	t.Parallel()
	sch := xarfdesk.FixtureSchema(t)
	tests := []struct {
		name   string
		mutate func(map[string]any)
	}{
		{name: "no classification", mutate: func(m map[string]any) { delete(m, "classification") }},
		{name: "unknown classification", mutate: func(m map[string]any) { m["classification"] = "C" }},
		{name: "report id not a uuid", mutate: func(m map[string]any) { m["report_id"] = "TD-1" }},
		{name: "short sha256", mutate: func(m map[string]any) { m["hash_values"] = map[string]any{"sha256": "abc"} }},
		{name: "no url", mutate: func(m map[string]any) { delete(m, "url") }},
	}
	parts, err := MarshalXARF(baseNotice("TD-R", KindFirst, "en", LevelHoster))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			if err := json.Unmarshal(parts[0], &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(m)
			b, _ := json.Marshal(m)
			if err := sch.Validate(b); err == nil {
				t.Errorf("schema accepted a report with %s", tt.name)
			}
		})
	}
}

func TestXARFReportIDsStable(t *testing.T) {
	t.Parallel()
	n := baseNotice("TD-S", KindFirst, "en", LevelHoster)
	a, b := XARFReports(n), XARFReports(n)
	if a[0].ReportID != b[0].ReportID {
		t.Errorf("report ids differ between renders: %s %s", a[0].ReportID, b[0].ReportID)
	}
	if a[0].ReportID == a[1].ReportID {
		t.Errorf("two items share report id %s", a[0].ReportID)
	}
	if a[1].Domain != "" {
		t.Errorf("punycode host %q was put in domain, which the schema pattern rejects", a[1].Domain)
	}
}

func TestForwardJSON(t *testing.T) {
	t.Parallel()
	sch := xarfdesk.FixtureSchema(t)
	n := goldenNotices()["forward-partner"]
	b, err := ForwardJSON(n, true)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ForwardJSON(n, true)
	if !bytes.Equal(b, again) {
		t.Error("two encodings of the same notice differ")
	}
	var p struct {
		Reference string            `json:"reference"`
		Items     []json.RawMessage `json:"items"`
		XARF      []json.RawMessage `json:"xarf"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Reference != n.Ref || len(p.Items) != len(n.Items) || len(p.XARF) != len(n.Items) {
		t.Fatalf("payload ref %q items %d xarf %d", p.Reference, len(p.Items), len(p.XARF))
	}
	for i, x := range p.XARF {
		if err := sch.Validate(x); err != nil {
			t.Errorf("xarf %d in forward payload invalid: %v", i+1, err)
		}
	}
	bad := n
	bad.Items = nil
	if _, err := ForwardJSON(bad, true); err == nil {
		t.Error("ForwardJSON accepted a notice without items")
	}
}
