package xarfdesk

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FixturesEnv names the environment variable that points at the shared
// fixtures directory (holding xarf/) when it is not in a shared/ directory
// above the working directory; rdapsim reads the same variable.
const FixturesEnv = "TAKEDOWND_FIXTURES"

// schemaBase is the $id prefix of the X-ARF v4 schemas.
const schemaBase = "https://xarf.org/schemas/v4/"

// FindFixtures returns the X-ARF fixture directory: $TAKEDOWND_FIXTURES/xarf
// when set, else shared/fixtures/xarf in the working directory or one
// above it (the repository and shared/ sit side by side in development
// and in CI).
func FindFixtures() (string, error) {
	if env := os.Getenv(FixturesEnv); env != "" {
		return filepath.Join(env, "xarf"), nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find xarf fixtures: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "fixtures", "xarf")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find xarf fixtures: no shared/fixtures/xarf above the working directory; set " + FixturesEnv)
		}
	}
}

// neededSchemas are the files a content report is validated against;
// they must exist, so a missing fixture fails instead of passing a stub.
var neededSchemas = map[string]bool{
	"xarf-v4-master.json":     true,
	"xarf-core.json":          true,
	"types/content-base.json": true,
	"types/content-csam.json": true,
}

// loader serves the schemas from the fixtures. The master schema names
// every type; only the content types are in the fixtures, so the others
// are stubbed with an empty schema, which a content report never reaches.
type loader struct{ dir string }

func (l loader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("load schema %s: outside %s", url, schemaBase)
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

// Schema is the X-ARF v4 master schema, formats asserted.
type Schema struct{ s *jsonschema.Schema }

// LoadSchema compiles the master schema from the fixture directory dir
// (as FindFixtures returns it).
func LoadSchema(dir string) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(loader{dir: dir})
	s, err := c.Compile(schemaBase + "xarf-v4-master.json")
	if err != nil {
		return nil, fmt.Errorf("compile xarf schema: %w", err)
	}
	return &Schema{s: s}, nil
}

// Validate checks one JSON report against the schema.
func (s *Schema) Validate(report []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(report))
	if err != nil {
		return fmt.Errorf("decode xarf json: %w", err)
	}
	return s.s.Validate(inst)
}

// FixtureSchema is LoadSchema on the directory FindFixtures returns, for
// tests: a missing fixture or a broken schema fails tb at once.
func FixtureSchema(tb testing.TB) *Schema {
	tb.Helper()
	dir, err := FindFixtures()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := LoadSchema(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
