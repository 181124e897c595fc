package config

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite config/takedownd.example.yaml from the defaults and doc comments")

const examplePath = "../../config/takedownd.example.yaml"

// TestExampleDocumentsEveryDefault keeps config/takedownd.example.yaml
// true: it is generated from Default() and the doc comments of the config
// structs (go test ./pkg/config -update), so every key appears with its
// default and its meaning, and loading it gives exactly the defaults.
func TestExampleDocumentsEveryDefault(t *testing.T) {
	want := renderExample(t)
	if *update {
		if err := os.WriteFile(examplePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run go test ./pkg/config -update", examplePath)
	}
	cfg, err := Load(examplePath)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	// %+v prints nil and empty collections alike, which YAML cannot tell apart.
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", Default()) {
		t.Errorf("loading the example does not give the defaults:\n got %+v\nwant %+v", cfg, Default())
	}
}

func renderExample(t *testing.T) []byte {
	t.Helper()
	docs := fieldDocs(t)
	root := &yaml.Node{Kind: yaml.MappingNode}
	encodeStruct(t, root, reflect.ValueOf(Default()), docs)
	var buf bytes.Buffer
	buf.WriteString(`# takedownd configuration: every key with its default.
# Generated from the defaults and the documentation in pkg/config
# (go test ./pkg/config -update); copy it, keep what you change.
# Durations are Go durations (90s, 15m, 12h). Secrets may be inline, or
# {file: /run/secrets/x} or {env: VARIABLE}.
`)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fieldDocs maps "Type.Field" to the field's doc (or line) comment.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				text := strings.TrimSpace(field.Doc.Text())
				if text == "" {
					text = strings.TrimSpace(field.Comment.Text())
				}
				for _, id := range field.Names {
					docs[ts.Name.Name+"."+id.Name] = text
				}
			}
			return true
		})
	}
	return docs
}

var durationType = reflect.TypeOf(time.Duration(0))

func encodeStruct(t *testing.T, m *yaml.Node, v reflect.Value, docs map[string]string) {
	typ := v.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: key, HeadComment: docs[typ.Name()+"."+f.Name]}
		m.Content = append(m.Content, k, encodeValue(t, v.Field(i), docs))
	}
}

func encodeValue(t *testing.T, v reflect.Value, docs map[string]string) *yaml.Node {
	switch {
	case v.Type() == durationType:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: shortDuration(time.Duration(v.Int()))}
	case v.Type() == reflect.TypeOf(Secret{}):
		s := v.Interface().(Secret)
		if !s.IsSet() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		}
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		encodeStruct(t, n, v, docs)
		return n
	case v.Kind() == reflect.Slice && v.Type().Elem() == durationType:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := range v.Len() {
			n.Content = append(n.Content, encodeValue(t, v.Index(i), docs))
		}
		return n
	case v.Kind() == reflect.Map && v.Len() > 0 && v.Type().Elem().Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		strs := make([]string, len(keys))
		for i, k := range keys {
			strs[i] = k.String()
		}
		sortStrings(strs)
		for _, k := range strs {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, encodeValue(t, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), docs))
		}
		return n
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		t.Fatal(err)
	}
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		n.Style = yaml.FlowStyle
	}
	return n
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// shortDuration prints 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
