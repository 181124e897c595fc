package config

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"unicode/utf8"
)

// MinTokenLength is the shortest API token accepted: 32 characters, as
// the 64 hex digits of a generated token (openssl rand -hex 32) are well
// above it.
const MinTokenLength = 32

// secretAt is a secret of the configuration and its key path.
type secretAt struct {
	key    string
	secret Secret
}

// secrets lists every secret that is set, wherever it sits in the
// configuration (a key added later is covered too), with its key path.
func (cfg *Config) secrets() []secretAt {
	var out []secretAt
	var walk func(key string, v reflect.Value)
	walk = func(key string, v reflect.Value) {
		if v.Type() == reflect.TypeFor[Secret]() {
			if s := v.Interface().(Secret); s.IsSet() {
				out = append(out, secretAt{key, s})
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(key, v.Elem())
			}
		case reflect.Struct:
			fields := yamlFields(v.Type())
			names := make([]string, 0, len(fields))
			for name := range fields {
				names = append(names, name)
			}
			slices.SortFunc(names, func(a, b string) int { return slices.Compare(fields[a], fields[b]) })
			for _, name := range names {
				walk(join(key, name), v.FieldByIndex(fields[name]))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", key, i), v.Index(i))
			}
		case reflect.Map:
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int {
				return cmp.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
			})
			for _, k := range keys {
				walk(join(key, fmt.Sprint(k.Interface())), v.MapIndex(k))
			}
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	return out
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// checkSecrets resolves every secret that is set, so that an unset
// environment variable or an unreadable file stops the daemon before
// anything starts, and holds API tokens to MinTokenLength and to being
// unique: one secret for two tokens would make two roles one. Problems
// name key paths only, never a secret; values are compared by hash and
// not kept.
func (cfg *Config) checkSecrets(c *checker) {
	type seen struct {
		key string
		sum [sha256.Size]byte
	}
	var all []seen
	tokens := map[string]bool{}
	for i := range cfg.API.Tokens {
		tokens[fmt.Sprintf("api.tokens[%d].token", i)] = true
	}
	for _, s := range cfg.secrets() {
		v, err := s.secret.Resolve()
		if err != nil {
			c.add(s.key, "%v", err)
			continue
		}
		if tokens[s.key] && utf8.RuneCountInString(v) < MinTokenLength {
			c.add(s.key, "too short: %d characters, at least %d (openssl rand -hex 32 makes one)", utf8.RuneCountInString(v), MinTokenLength)
		}
		sum := sha256.Sum256([]byte(v))
		for _, o := range all {
			if o.sum == sum && (tokens[s.key] || tokens[o.key]) {
				c.add(s.key, "the same secret as %s: every API token needs a secret of its own", o.key)
			}
		}
		all = append(all, seen{s.key, sum})
	}
}
