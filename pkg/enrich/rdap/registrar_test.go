package rdap

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openrdap/rdap"
)

// card builds a vCard with a name and addresses ("x@y;pref" marks one
// preferred).
func card(fn string, emails ...string) *rdap.VCard {
	props := []any{[]any{"version", map[string]any{}, "text", "4.0"}, []any{"fn", map[string]any{}, "text", fn}}
	for _, e := range emails {
		params := map[string]any{}
		if addr, ok := strings.CutSuffix(e, ";pref"); ok {
			e, params["pref"] = addr, "1"
		}
		props = append(props, []any{"email", params, "text", e})
	}
	blob, err := json.Marshal([]any{"vcard", props})
	if err != nil {
		panic(err)
	}
	v, err := rdap.NewVCard(blob)
	if err != nil {
		panic(err)
	}
	return v
}

func TestRegistrarContactTiers(t *testing.T) {
	t.Parallel()
	self := func(href string) []rdap.Link { return []rdap.Link{{Rel: "self", Href: href}} }
	full := map[string]*rdap.Entity{
		"https://rdap.example/entity/REG1": {Handle: "REG1", Roles: []string{"registrar"}, VCard: card("Registrar One", "info@reg1.example"),
			Entities: []rdap.Entity{{Roles: []string{"abuse"}, VCard: card("", "abuse@reg1.example")}}},
		"https://rdap.example/entity/TECH1": {Handle: "TECH1", Roles: []string{"technical"}, VCard: card("Tech", "tech@reg2.example")},
	}
	fetch := func(_ context.Context, href string) (*rdap.Entity, error) {
		if e, ok := full[href]; ok {
			return e, nil
		}
		return nil, errors.New("no such entity")
	}
	type want struct {
		email, handle, kind string
		path                []string
		pref                int
	}
	tests := []struct {
		name  string
		reg   rdap.Entity
		want  []want
		rname string
	}{
		{
			name: "a nested abuse entity wins over the registrar's own vCard",
			reg: rdap.Entity{Handle: "9", Roles: []string{"registrar"}, VCard: card("R", "info@r.example;pref"),
				Entities: []rdap.Entity{{Roles: []string{"abuse"}, VCard: card("", "abuse@r.example")}}},
			want: []want{{"abuse@r.example", "", KindEntity, []string{"registrar", "abuse"}, 0}},
		},
		{
			name: "no abuse entity: the technical entity below the registrar, stub fetched",
			reg: rdap.Entity{Handle: "REG2", Roles: []string{"registrar"}, VCard: card("R2", "info@reg2.example"),
				Entities: []rdap.Entity{{Handle: "TECH1", Roles: []string{"administrative", "technical"}, Links: self("https://rdap.example/entity/TECH1")}}},
			want: []want{{"tech@reg2.example", "TECH1", KindTechnical, []string{"registrar", "technical"}, 0}},
		},
		{
			name: "nothing below: the registrar's own vCard, preferred address first",
			reg:  rdap.Entity{Handle: "REG3", Roles: []string{"registrar"}, VCard: card("R3", "sales@reg3.example", "support@reg3.example;pref")},
			want: []want{
				{"support@reg3.example", "REG3", KindOwnVCard, []string{"registrar"}, 1},
				{"sales@reg3.example", "REG3", KindOwnVCard, []string{"registrar"}, 0},
			},
		},
		{
			name: "a registrar entity that holds the abuse role is an abuse contact itself",
			reg:  rdap.Entity{Handle: "REG4", Roles: []string{"registrar", "abuse"}, VCard: card("R4", "abuse@reg4.example")},
			want: []want{{"abuse@reg4.example", "REG4", KindEntity, []string{"registrar"}, 0}},
		},
		{
			name:  "a stub registrar is fetched by its self link, and its nested abuse entity found",
			reg:   rdap.Entity{Handle: "REG1", Roles: []string{"registrar"}, Links: self("https://rdap.example/entity/REG1")},
			want:  []want{{"abuse@reg1.example", "", KindEntity, []string{"registrar", "abuse"}, 0}},
			rname: "Registrar One",
		},
		{
			name: "a stub whose fetch fails leaves no contact, not an error",
			reg:  rdap.Entity{Handle: "REG5", Roles: []string{"registrar"}, Links: self("https://rdap.example/entity/REG5")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entities := []rdap.Entity{{Handle: "OWNER", Roles: []string{"technical"}, VCard: card("Owner tech", "tech@owner.example")}, tc.reg}
			reg := registrarOf(t.Context(), "rdap.example", "DOM-1", entities, fetch)
			if reg == nil {
				t.Fatal("no registrar")
			}
			if tc.rname != "" && reg.Name != tc.rname {
				t.Errorf("name = %q, want %q", reg.Name, tc.rname)
			}
			if len(reg.Contacts) != len(tc.want) {
				t.Fatalf("contacts = %+v, want %d", reg.Contacts, len(tc.want))
			}
			for i, w := range tc.want {
				c := reg.Contacts[i]
				if c.Email != w.email || c.Handle != w.handle || c.Kind != w.kind || !slices.Equal(c.Path, w.path) ||
					c.Pref != w.pref || c.Object != "DOM-1" || c.Server != "rdap.example" {
					t.Errorf("contact %d = %+v, want %+v", i, c, w)
				}
			}
		})
	}
}

func TestMergeRegistrarContactsByKind(t *testing.T) {
	t.Parallel()
	registry := []Contact{{Email: "info@r.example", Kind: KindOwnVCard, Server: "rdap.registry.example"}}
	registrar := []Contact{
		{Email: "abuse@r.example", Kind: KindEntity, Server: "rdap.r.example"},
		{Email: "INFO@r.example", Kind: KindOwnVCard, Server: "rdap.r.example"},
	}
	got := mergeContacts(registry, registrar)
	var emails []string
	for _, c := range got {
		emails = append(emails, c.Email+"@"+c.Server)
	}
	want := []string{"abuse@r.example@rdap.r.example", "info@r.example@rdap.registry.example"}
	if !slices.Equal(emails, want) {
		t.Errorf("merged = %v, want %v", emails, want)
	}
}
