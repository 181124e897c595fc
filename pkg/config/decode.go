package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Decode reads YAML into cfg over what cfg already holds, which is how
// defaults work: Load starts from Default(), so a key the YAML sets wins,
// an explicit zero included, and a key it leaves out keeps its default.
//
// yaml.v3 alone gets one case wrong: an entry of a map of structs is
// decoded into a fresh zero value, so setting one field of a default entry
// (recheck.routes.hoster.reminder_interval) would zero its other fields.
// Decode merges such an entry over the one already there instead, for
// every map of structs in the configuration, at any depth.
//
// It reads the YAML twice: once strictly into a scratch value, so that
// unknown keys and type errors are reported as yaml.v3 reports them (with
// line numbers), then again into cfg with the merge.
func Decode(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(new(Config)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: every default stands
		}
		return fmt.Errorf("parse yaml: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	if err := decodeOver(&root, reflect.ValueOf(cfg).Elem()); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decodeOver decodes n into the addressable v as yaml.v3 does, except
// that map entries already present are decoded over a copy of themselves.
// Only structs and maps that hold such maps are walked here; everything
// else (scalars, lists, types with their own UnmarshalYAML) is left to
// yaml.v3.
func decodeOver(n *yaml.Node, v reflect.Value) error {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 0 {
			return nil
		} else {
			n = n.Content[0]
		}
	}
	if n.Kind != yaml.MappingNode || !holdsStructMap(v.Type(), nil) {
		return n.Decode(v.Addr().Interface())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return decodeOver(n, v.Elem())
	case reflect.Struct:
		fields := yamlFields(v.Type())
		for _, kv := range pairs(n) {
			idx, ok := fields[kv[0].Value]
			if !ok {
				continue // the strict pass has refused unknown keys already
			}
			if err := decodeOver(kv[1], v.FieldByIndex(idx)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, kv := range pairs(n) {
			key := reflect.New(v.Type().Key()).Elem()
			if err := kv[0].Decode(key.Addr().Interface()); err != nil {
				return err
			}
			old := v.MapIndex(key)
			if isNull(kv[1]) && old.IsValid() {
				continue // as yaml.v3: a null keeps an entry that is there
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			if old.IsValid() {
				elem.Set(old)
			}
			if err := decodeOver(kv[1], elem); err != nil {
				return err
			}
			v.SetMapIndex(key, elem)
		}
		return nil
	}
	return n.Decode(v.Addr().Interface())
}

// holdsStructMap reports whether values of t contain a map of structs that
// decodeOver must merge: t itself, or a struct field or map element of t.
func holdsStructMap(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	if seen[t] {
		return false
	}
	if seen == nil {
		seen = map[reflect.Type]bool{}
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer:
		return holdsStructMap(t.Elem(), seen)
	case reflect.Map:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		return e.Kind() == reflect.Struct || holdsStructMap(e, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsStructMap(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// yamlFields maps the YAML key of every field of struct type t to its
// index, following yaml.v3's rules: the tag's name, else the lower-cased
// field name; "-" skipped; ",inline" structs flattened.
func yamlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

// pairs lists the key/value nodes of mapping n with YAML merge keys ("<<")
// resolved: keys written in n win over merged ones, and an earlier merged
// mapping wins over a later one, as in yaml.v3.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	var add func(m *yaml.Node)
	add = func(m *yaml.Node) {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		switch m.Kind {
		case yaml.SequenceNode:
			for _, c := range m.Content {
				add(c)
			}
		case yaml.MappingNode:
			for _, kv := range pairs(m) {
				if !seen[kv[0].Value] {
					seen[kv[0].Value] = true
					out = append(out, kv)
				}
			}
		}
	}
	for _, m := range merges {
		add(m)
	}
	return out
}

func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
