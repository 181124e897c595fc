package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// structMapEntry is one entry of a map of structs in the defaults.
type structMapEntry struct {
	path []string // YAML keys down to the map, then the entry's key
	elem reflect.Value
}

// defaultStructMapEntries finds every entry of every map of structs in
// Default(), so a map added later is covered without a new test.
func defaultStructMapEntries() []structMapEntry {
	var out []structMapEntry
	var walk func(path []string, v reflect.Value)
	walk = func(path []string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for name, idx := range yamlFields(v.Type()) {
				walk(append(slices.Clone(path), name), v.FieldByIndex(idx))
			}
		case reflect.Map:
			if v.Type().Elem().Kind() != reflect.Struct {
				return
			}
			for _, k := range v.MapKeys() {
				out = append(out, structMapEntry{append(slices.Clone(path), k.String()), v.MapIndex(k)})
			}
		}
	}
	walk(nil, reflect.ValueOf(Default()))
	return out
}

// nested writes value under the keys of path as block YAML.
func nested(path []string, value string) string {
	var b strings.Builder
	for i, k := range path {
		fmt.Fprintf(&b, "%s%q:\n", strings.Repeat("  ", i), k)
	}
	for line := range strings.SplitSeq(strings.TrimRight(value, "\n"), "\n") {
		b.WriteString(strings.Repeat("  ", len(path)) + line + "\n")
	}
	return b.String()
}

// lookup follows YAML keys from cfg down to a value.
func lookup(t *testing.T, cfg Config, path []string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(cfg)
	for _, k := range path {
		switch v.Kind() {
		case reflect.Struct:
			idx, ok := yamlFields(v.Type())[k]
			if !ok {
				t.Fatalf("no key %s in %s", k, v.Type())
			}
			v = v.FieldByIndex(idx)
		case reflect.Map:
			v = v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))
			if !v.IsValid() {
				t.Fatalf("no entry %s", k)
			}
		}
	}
	return v
}

func isEmpty(v reflect.Value) bool {
	if v.Kind() == reflect.Slice || v.Kind() == reflect.Map {
		return v.Len() == 0
	}
	return v.IsZero()
}

// TestPartialMapOverrideKeepsDefaults sets one field of one default map
// entry at a time, to an explicit zero, and checks that exactly that field
// changed: the entry's other fields keep their defaults, and the zero is
// not replaced by one.
func TestPartialMapOverrideKeepsDefaults(t *testing.T) {
	t.Parallel()
	entries := defaultStructMapEntries()
	found := map[string]bool{}
	for _, e := range entries {
		found[strings.Join(e.path[:len(e.path)-1], ".")] = true
	}
	for _, m := range []string{"recheck.routes", "enrich.rdap.limits"} {
		if !found[m] {
			t.Errorf("no default entries found in %s", m)
		}
	}
	for _, e := range entries {
		for name, idx := range yamlFields(e.elem.Type()) {
			def := e.elem.FieldByIndex(idx)
			if isEmpty(def) || def.Kind() == reflect.Struct {
				continue // setting it to zero would show nothing
			}
			key := strings.Join(e.path, ".") + "." + name
			t.Run(key, func(t *testing.T) {
				t.Parallel()
				zero, err := yaml.Marshal(map[string]any{name: reflect.Zero(def.Type()).Interface()})
				if err != nil {
					t.Fatal(err)
				}
				cfg := Default()
				if err := Decode([]byte(nested(e.path, string(zero))), &cfg); err != nil {
					t.Fatal(err)
				}
				got := lookup(t, cfg, e.path)
				for other, oidx := range yamlFields(got.Type()) {
					g, want := got.FieldByIndex(oidx), e.elem.FieldByIndex(oidx)
					switch {
					case other == name && !isEmpty(g):
						t.Errorf("%s = %v after setting it to zero", key, g)
					case other != name && !reflect.DeepEqual(g.Interface(), want.Interface()):
						t.Errorf("%s = %v, want its default %v", strings.Join(e.path, ".")+"."+other, g, want)
					}
				}
			})
		}
	}
}

func TestDecodeMapEntries(t *testing.T) {
	t.Parallel()
	hoster := Default().Recheck.Routes["hoster"]
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, cfg Config)
	}{
		{"one field of recheck.routes.hoster", "recheck:\n  routes:\n    hoster:\n      reminder_interval: 6h\n",
			func(t *testing.T, cfg Config) {
				got := cfg.Recheck.Routes["hoster"]
				want := hoster
				want.ReminderInterval = 6 * time.Hour
				if !reflect.DeepEqual(got, want) {
					t.Errorf("hoster = %+v, want %+v", got, want)
				}
				if !reflect.DeepEqual(cfg.Recheck.Routes["cdn"], Default().Recheck.Routes["cdn"]) {
					t.Errorf("cdn changed: %+v", cfg.Recheck.Routes["cdn"])
				}
			}},
		{"one field of enrich.rdap.limits entry", "enrich:\n  rdap:\n    limits:\n      rdap.lacnic.net: {burst: 1}\n",
			func(t *testing.T, cfg Config) {
				if got := cfg.Enrich.RDAP.Limits["rdap.lacnic.net"]; got != (RDAPLimit{PerMinute: 10, Burst: 1}) {
					t.Errorf("lacnic = %+v, want per_minute kept at 10", got)
				}
				if len(cfg.Enrich.RDAP.Limits) != 2 {
					t.Errorf("limits = %v, want the other default entry kept", cfg.Enrich.RDAP.Limits)
				}
			}},
		{"a new entry starts from zero", "enrich:\n  rdap:\n    limits:\n      rdap.example.net: {per_minute: 30}\n",
			func(t *testing.T, cfg Config) {
				if got := cfg.Enrich.RDAP.Limits["rdap.example.net"]; got != (RDAPLimit{PerMinute: 30}) {
					t.Errorf("new entry = %+v", got)
				}
			}},
		{"a null entry keeps the default", "recheck:\n  routes:\n    hoster: ~\n",
			func(t *testing.T, cfg Config) {
				if !reflect.DeepEqual(cfg.Recheck.Routes["hoster"], hoster) {
					t.Errorf("hoster = %+v", cfg.Recheck.Routes["hoster"])
				}
			}},
		{"merge keys and anchors", "recheck:\n  routes:\n    cdn: &slow {reminder_interval: 48h}\n    hoster:\n      <<: *slow\n      reminders_per_level: 5\n",
			func(t *testing.T, cfg Config) {
				got := cfg.Recheck.Routes["hoster"]
				if got.ReminderInterval != 48*time.Hour || got.RemindersPerLevel != 5 || !slices.Equal(got.Escalate, hoster.Escalate) {
					t.Errorf("hoster = %+v", got)
				}
				if cdn := cfg.Recheck.Routes["cdn"]; cdn.ReminderInterval != 48*time.Hour || cdn.RemindersPerLevel != 2 {
					t.Errorf("cdn = %+v", cdn)
				}
			}},
		{"a list inside an entry is replaced whole", "recheck:\n  routes:\n    hoster: {escalate: [authority]}\n",
			func(t *testing.T, cfg Config) {
				if got := cfg.Recheck.Routes["hoster"]; !slices.Equal(got.Escalate, []string{"authority"}) || got.RemindersPerLevel != 2 {
					t.Errorf("hoster = %+v", got)
				}
			}},
		{"maps of strings add to the defaults", "recheck:\n  probe:\n    connect_to: {\"a.test:80\": \"127.0.0.1:1\"}\n",
			func(t *testing.T, cfg Config) {
				if cfg.Recheck.Probe.ConnectTo["a.test:80"] != "127.0.0.1:1" {
					t.Errorf("connect_to = %v", cfg.Recheck.Probe.ConnectTo)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			if err := Decode([]byte(tt.yaml), &cfg); err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestDecodeRefusesUnknownKeysInMapEntries(t *testing.T) {
	t.Parallel()
	cfg := Default()
	err := Decode([]byte("recheck:\n  routes:\n    hoster: {reminder_intervall: 6h}\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), "reminder_intervall") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("Decode = %v, want the unknown key named with its line", err)
	}
}
