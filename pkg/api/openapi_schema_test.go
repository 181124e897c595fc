package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// schemaGen makes the JSON Schemas (2020-12, as OpenAPI 3.1 takes them)
// of Go types as encoding/json writes them: a struct's fields by their
// json names, required unless omitempty or omitzero, nothing else
// allowed; a pointer, slice or map that may be written as null says so;
// named types of this module become components, described by their doc
// comments. Generating instead of writing them by hand keeps the
// description true to the code: a field added to a Go type is in the
// next -update, and TestOpenAPIDocument fails until then.
type schemaGen struct {
	components map[string]any
	// enums lists the values of string types that have a fixed set.
	enums map[reflect.Type][]string
	docs  *goDocs
}

// modulePath is this module's import path: its named types become
// components and their doc comments descriptions.
const modulePath = "github.com/takedownd/takedownd/"

var (
	timeType          = reflect.TypeFor[time.Time]()
	durationType      = reflect.TypeFor[time.Duration]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func newSchemaGen(root string, enums map[reflect.Type][]string) *schemaGen {
	return &schemaGen{components: map[string]any{}, enums: enums, docs: &goDocs{root: root, pkgs: map[string]*pkgDocs{}}}
}

// componentName is the name a named type of this module has among the
// components ("takedown.Case"), "" for any other type.
func componentName(t reflect.Type) string {
	if t.Name() == "" || !strings.HasPrefix(t.PkgPath(), modulePath) {
		return ""
	}
	return filepath.Base(t.PkgPath()) + "." + t.Name()
}

// schema is the schema of a value of type t; nullable when the value may
// be written as null (a nil pointer, slice, map or interface).
func (g *schemaGen) schema(t reflect.Type, nullable bool) map[string]any {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
	default:
		nullable = false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := g.bare(t)
	if !nullable {
		return s
	}
	if typ, ok := s["type"].(string); ok {
		out := maps.Clone(s)
		out["type"] = []string{typ, "null"}
		return out
	}
	if len(s) == 0 {
		return s // any value, null included
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// bare is the schema of t, never null; a named type of this module is a
// reference to its component.
func (g *schemaGen) bare(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case rawMessageType:
		return map[string]any{}
	}
	if t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) {
		panic(fmt.Sprintf("openapi: %s writes its own JSON: describe it in schemaGen.bare", t))
	}
	name := componentName(t)
	if name != "" && t.Kind() != reflect.Slice && t.Kind() != reflect.Map {
		if _, done := g.components[name]; !done {
			g.components[name] = map[string]any{} // a recursive type refers to itself
			s := g.define(t)
			if d := g.docs.typeDoc(t); d != "" {
				s["description"] = d
			}
			g.components[name] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return g.define(t)
}

// define is the schema of t itself.
func (g *schemaGen) define(t reflect.Type) map[string]any {
	if t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.String:
		s := map[string]any{"type": "string"}
		if vals, ok := g.enums[t]; ok {
			s["enum"] = vals
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), true)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), true), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), true)}
	case reflect.Struct:
		return g.object(t)
	}
	panic(fmt.Sprintf("openapi: no schema for %s (kind %s)", t, t.Kind()))
}

// object is a struct's schema by encoding/json's rules: exported fields,
// tag names, "-" left out, embedded structs' fields promoted.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	slices.Sort(required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := props[name]; dup {
			panic(fmt.Sprintf("openapi: %s: field %s twice", t, name))
		}
		optional := hasOpt(opts, "omitempty") || hasOpt(opts, "omitzero")
		var s map[string]any
		if hasOpt(opts, "string") {
			s = map[string]any{"type": "string"}
		} else {
			s = g.schema(ft, !optional)
		}
		if d := g.docs.fieldDoc(t, f.Name); d != "" {
			if _, isRef := s["$ref"]; isRef {
				// A sibling of $ref is allowed in 2020-12; keep the
				// reference itself clean by wrapping it.
				s = map[string]any{"allOf": []any{s}, "description": d}
			} else {
				s = maps.Clone(s)
				s["description"] = d
			}
		}
		props[name] = s
		if !optional {
			*required = append(*required, name)
		}
	}
}

func hasOpt(opts, want string) bool {
	return slices.Contains(strings.Split(opts, ","), want)
}

// goDocs reads the doc comments of this module's types from their source.
type goDocs struct {
	root string // the module's root directory
	pkgs map[string]*pkgDocs
}

type pkgDocs struct {
	types  map[string]string
	fields map[string]map[string]string
}

func (d *goDocs) pkg(path string) *pkgDocs {
	rel, ok := strings.CutPrefix(path, modulePath)
	if !ok {
		return nil
	}
	if p, ok := d.pkgs[path]; ok {
		return p
	}
	p := &pkgDocs{types: map[string]string{}, fields: map[string]map[string]string{}}
	d.pkgs[path] = p
	dir := filepath.Join(d.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		panic(fmt.Sprintf("openapi: read the source of %s: %v", path, err))
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		// Test files too: the answers that are no type of the package's
		// own are declared beside the operation table.
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			panic(fmt.Sprintf("openapi: parse %s: %v", e.Name(), err))
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				p.types[ts.Name.Name] = docText(doc)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				fields := map[string]string{}
				for _, fl := range st.Fields.List {
					text := docText(fl.Doc)
					if text == "" {
						text = docText(fl.Comment)
					}
					for _, n := range fl.Names {
						fields[n.Name] = text
					}
				}
				p.fields[ts.Name.Name] = fields
			}
		}
	}
	return p
}

// docText is a comment as one paragraph per paragraph of the source.
func docText(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	var paras []string
	for _, para := range strings.Split(strings.TrimSpace(cg.Text()), "\n\n") {
		paras = append(paras, strings.Join(strings.Fields(para), " "))
	}
	return strings.Join(paras, "\n\n")
}

func (d *goDocs) typeDoc(t reflect.Type) string {
	if p := d.pkg(t.PkgPath()); p != nil {
		return p.types[t.Name()]
	}
	return ""
}

func (d *goDocs) fieldDoc(t reflect.Type, field string) string {
	if t.Name() == "" {
		return ""
	}
	if p := d.pkg(t.PkgPath()); p != nil {
		return p.fields[t.Name()][field]
	}
	return ""
}
