package verp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddressRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := New("abuse@Hotline.example", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Address("TD-20261126-7F3K2Q")
	if !strings.HasPrefix(a, "abuse+bounce-TD-20261126-7F3K2Q-") || !strings.HasSuffix(a, "@hotline.example") {
		t.Fatalf("address %q", a)
	}
	tests := []struct {
		name, addr, ref string
		ok, isVERP      bool
	}{
		{"as made", a, "TD-20261126-7F3K2Q", true, true},
		{"lower-cased by an MTA", strings.ToLower(a), "TD-20261126-7F3K2Q", true, true},
		{"forged tag", strings.Replace(a, a[strings.LastIndex(a, "-")+1:strings.Index(a, "@")], "000000000000", 1), "TD-20261126-7F3K2Q", false, true},
		{"other reference, same tag", strings.Replace(a, "7F3K2Q", "7F3K2R", 1), "TD-20261126-7F3K2R", false, true},
		{"no tag", "abuse+bounce-@hotline.example", "", false, true},
		{"plain reply address", "abuse+TD-20261126-7F3K2Q@hotline.example", "", false, false},
		{"other domain", strings.Replace(a, "hotline.example", "elsewhere.example", 1), "", false, false},
	}
	for _, tt := range tests {
		ref, ok, isVERP := s.Parse(tt.addr)
		if ref != tt.ref || ok != tt.ok || isVERP != tt.isVERP {
			t.Errorf("%s: Parse(%q) = %q %v %v, want %q %v %v", tt.name, tt.addr, ref, ok, isVERP, tt.ref, tt.ok, tt.isVERP)
		}
	}
	other, _ := New("abuse@hotline.example", []byte("another secret, another daemon!!"))
	if _, ok, _ := other.Parse(a); ok {
		t.Error("a tag made with another secret verifies")
	}
}

func TestLoadKeyCreatesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "verp-secret")
	k1, created, err := LoadKey(path)
	if err != nil || !created {
		t.Fatalf("first LoadKey: %v created %v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	k2, created, err := LoadKey(path)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("second LoadKey: %v created %v same %v", err, created, string(k1) == string(k2))
	}
}
