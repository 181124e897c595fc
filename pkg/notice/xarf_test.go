package notice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const xarfBase = "https://xarf.org/schemas/v4/"

// xarfDir finds the X-ARF fixtures: $TAKEDOWND_FIXTURES/xarf when set, else
// shared/fixtures/xarf in this directory or one above it (the repository and
// shared/ sit side by side in development and in CI).
func xarfDir(t *testing.T) string {
	t.Helper()
	if env := os.Getenv("TAKEDOWND_FIXTURES"); env != "" {
		return filepath.Join(env, "xarf")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "fixtures", "xarf")
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no shared/fixtures/xarf above the package directory; set TAKEDOWND_FIXTURES")
		}
		dir = parent
	}
}

// schemaLoader serves the schemas from the fixtures. The master schema names
// every type; only the content types are in the fixtures, so the others are
// stubbed with an empty schema, which a csam report never reaches.
type schemaLoader struct{ dir string }

// neededSchemas are the files a csam report is validated against; these
// must exist, so a missing fixture fails the test instead of passing a stub.
var neededSchemas = map[string]bool{
	"xarf-v4-master.json":     true,
	"xarf-core.json":          true,
	"types/content-base.json": true,
	"types/content-csam.json": true,
}

func (l schemaLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, xarfBase)
	if !ok {
		return nil, fmt.Errorf("load schema %s: outside %s", url, xarfBase)
	}
	f, err := os.Open(filepath.Join(l.dir, "schemas", "v4", filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) && !neededSchemas[rel] {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", url, err)
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func xarfSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(schemaLoader{dir: xarfDir(t)})
	sch, err := c.Compile(xarfBase + "xarf-v4-master.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validateJSON(sch *jsonschema.Schema, b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestXARFValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	sch := xarfSchema(t)
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
				if err := validateJSON(sch, p); err != nil {
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
	sch := xarfSchema(t)
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
			if err := validateJSON(sch, b); err == nil {
				t.Errorf("schema accepted a report with %s", tt.name)
			}
		})
	}
}

func TestXARFSampleValidates(t *testing.T) {
	t.Parallel()
	sch := xarfSchema(t)
	b, err := os.ReadFile(filepath.Join(xarfDir(t), "samples", "v4", "content-csam.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(sch, b); err != nil {
		t.Errorf("upstream sample invalid, so the validator setup is wrong: %v", err)
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
	sch := xarfSchema(t)
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
		if err := validateJSON(sch, x); err != nil {
			t.Errorf("xarf %d in forward payload invalid: %v", i+1, err)
		}
	}
	bad := n
	bad.Items = nil
	if _, err := ForwardJSON(bad, true); err == nil {
		t.Error("ForwardJSON accepted a notice without items")
	}
}
