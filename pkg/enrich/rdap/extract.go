package rdap

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/openrdap/rdap"
)

// emailPattern finds addresses in free text; deliberately simple, the
// remarks it reads are short English sentences.
var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)

// entityFetcher fetches an entity by its self link; nil disables fetching.
type entityFetcher func(ctx context.Context, href string) (*rdap.Entity, error)

// node is an entity found while walking the tree, with the roles that led
// to it.
type node struct {
	e     *rdap.Entity
	path  []string
	depth int
}

// walk lists entities breadth first, so closer entities come first.
func walk(entities []rdap.Entity, prefix []string) []node {
	var out []node
	queue := make([]node, 0, len(entities))
	for i := range entities {
		queue = append(queue, node{e: &entities[i], path: prefix})
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		role := "entity"
		if len(n.e.Roles) > 0 {
			role = strings.ToLower(n.e.Roles[0])
		}
		if hasRole(n.e, "abuse") {
			role = "abuse"
		}
		n.path = append(slices.Clip(n.path), role)
		out = append(out, n)
		for i := range n.e.Entities {
			queue = append(queue, node{e: &n.e.Entities[i], path: n.path, depth: n.depth + 1})
		}
	}
	return out
}

func hasRole(e *rdap.Entity, role string) bool {
	for _, r := range e.Roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

// vcardEmails returns the entity's addresses, preferred ones (pref=1 or
// type=abuse) first, and its name.
func vcardEmails(e *rdap.Entity) (emails []string, prefs []int, name string) {
	if e == nil || e.VCard == nil {
		return nil, nil, ""
	}
	name = e.VCard.Name()
	var first, rest []string
	for _, p := range e.VCard.Get("email") {
		for _, v := range p.Values() {
			v = strings.TrimSpace(strings.TrimPrefix(v, "mailto:"))
			if !strings.Contains(v, "@") {
				continue
			}
			if slices.Contains(p.Parameters["pref"], "1") || slices.ContainsFunc(p.Parameters["type"], isAbuseType) {
				first = append(first, v)
			} else {
				rest = append(rest, v)
			}
		}
	}
	for _, v := range first {
		emails, prefs = append(emails, v), append(prefs, 1)
	}
	for _, v := range rest {
		emails, prefs = append(emails, v), append(prefs, 0)
	}
	return emails, prefs, name
}

func isAbuseType(s string) bool { return strings.EqualFold(s, "abuse") }

func selfLink(links []rdap.Link) string {
	for _, l := range links {
		if strings.EqualFold(l.Rel, "self") && l.Href != "" {
			return l.Href
		}
	}
	return ""
}

// contactList collects contacts without duplicate addresses; the first
// (best) source of an address wins.
type contactList struct {
	seen map[string]bool
	list []Contact
}

func (c *contactList) add(ct Contact) {
	key := strings.ToLower(ct.Email)
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.list = append(c.list, ct)
}

// abuseContacts finds the abuse contacts below entities: entities with role
// abuse, closest first; stub abuse entities fetched by their self link;
// then, with fallbacks, addresses in remarks and abuse-looking addresses of
// other entities. Later tiers are used only when earlier ones found nothing.
func abuseContacts(ctx context.Context, server, object string, entities []rdap.Entity, remarks []rdap.Remark, prefix []string, fallbacks bool, fetch entityFetcher) []Contact {
	nodes := walk(entities, prefix)
	var out contactList
	for _, n := range nodes {
		if !hasRole(n.e, "abuse") {
			continue
		}
		kind := KindEntity
		emails, prefs, name := vcardEmails(n.e)
		if len(emails) == 0 && fetch != nil {
			if href := selfLink(n.e.Links); href != "" {
				if full, err := fetch(ctx, href); err == nil {
					emails, prefs, name = vcardEmails(full)
					kind = KindEntitySelf
				}
			}
		}
		for i, email := range emails {
			out.add(Contact{Email: email, Name: name, Handle: n.e.Handle, Object: object,
				Path: n.path, Server: server, Kind: kind, Pref: prefs[i]})
		}
	}
	if len(out.list) > 0 || !fallbacks {
		return out.list
	}
	for _, r := range remarkSources(remarks, nodes) {
		for _, email := range remarkEmails(r.remarks) {
			out.add(Contact{Email: email, Handle: r.handle, Object: object, Path: r.path, Server: server, Kind: KindRemarks})
		}
	}
	if len(out.list) > 0 {
		return out.list
	}
	for _, n := range nodes {
		emails, _, name := vcardEmails(n.e)
		for _, email := range emails {
			if strings.HasPrefix(strings.ToLower(email), "abuse@") {
				out.add(Contact{Email: email, Name: name, Handle: n.e.Handle, Object: object,
					Path: n.path, Server: server, Kind: KindHeuristic})
			}
		}
	}
	return out.list
}

type remarkSource struct {
	handle  string
	path    []string
	remarks []rdap.Remark
}

func remarkSources(top []rdap.Remark, nodes []node) []remarkSource {
	out := []remarkSource{{remarks: top}}
	for _, n := range nodes {
		out = append(out, remarkSource{handle: n.e.Handle, path: n.path, remarks: n.e.Remarks})
	}
	return out
}

// remarkEmails returns the addresses in remarks, those on lines that
// mention abuse first.
func remarkEmails(remarks []rdap.Remark) []string {
	var first, rest []string
	for _, r := range remarks {
		for _, line := range r.Description {
			found := emailPattern.FindAllString(line, -1)
			if strings.Contains(strings.ToLower(line), "abuse") {
				first = append(first, found...)
			} else {
				rest = append(rest, found...)
			}
		}
	}
	return append(first, rest...)
}

// registrarOf finds the registrar entity of a domain answer and its abuse
// contacts. A registrar entity that is only a stub (no vCard address, no
// entities below it) is fetched by its self link first.
func registrarOf(ctx context.Context, server, object string, entities []rdap.Entity, fetch entityFetcher) *Registrar {
	for _, n := range walk(entities, nil) {
		if !hasRole(n.e, "registrar") {
			continue
		}
		e := n.e
		_, _, name := vcardEmails(e)
		reg := &Registrar{Name: name, Handle: e.Handle}
		for _, id := range e.PublicIDs {
			if strings.EqualFold(id.Type, "IANA Registrar ID") {
				reg.IANAID = id.Identifier
			}
		}
		if reg.IANAID == "" && isDigits(e.Handle) {
			reg.IANAID = e.Handle
		}
		if emails, _, _ := vcardEmails(e); len(emails) == 0 && len(e.Entities) == 0 && fetch != nil {
			if href := selfLink(e.Links); href != "" {
				if full, err := fetch(ctx, href); err == nil {
					e = full
					if reg.Name == "" {
						_, _, reg.Name = vcardEmails(e)
					}
				}
			}
		}
		reg.Contacts = registrarContacts(ctx, server, object, e, fetch)
		return reg
	}
	return nil
}

// registrarContacts are the addresses a registrar takes abuse reports at,
// in tiers; a later tier is used only when the earlier ones found nothing:
//  1. abuse entities below the registrar (gTLD registries, most ccTLDs);
//  2. technical entities below it;
//  3. the registrar entity's own vCard: some registries (Norid) publish
//     the registrar's address there and nothing below it. Escalation to a
//     registrar with nobody to mail would stop there, so its customer
//     service address is better than none, and the kind says what it is.
func registrarContacts(ctx context.Context, server, object string, e *rdap.Entity, fetch entityFetcher) []Contact {
	path := []string{"registrar"}
	if cs := abuseContacts(ctx, server, object, e.Entities, nil, path, false, fetch); len(cs) > 0 {
		return cs
	}
	var out contactList
	for _, n := range walk(e.Entities, path) {
		if !hasRole(n.e, "technical") {
			continue
		}
		n.path[len(n.path)-1] = "technical"
		for _, ct := range entityEmails(ctx, n.e, fetch) {
			ct.Object, ct.Path, ct.Server, ct.Kind = object, n.path, server, KindTechnical
			out.add(ct)
		}
	}
	if len(out.list) > 0 {
		return out.list
	}
	kind := KindOwnVCard
	if hasRole(e, "abuse") {
		// The registrar entity is its own abuse contact.
		kind = KindEntity
	}
	emails, prefs, name := vcardEmails(e)
	for i, email := range emails {
		out.add(Contact{Email: email, Name: name, Handle: e.Handle, Object: object,
			Path: path, Server: server, Kind: kind, Pref: prefs[i]})
	}
	return out.list
}

// entityEmails are the addresses in an entity's vCard, or in the full
// entity its self link names when the answer gave only a stub.
func entityEmails(ctx context.Context, e *rdap.Entity, fetch entityFetcher) []Contact {
	emails, prefs, name := vcardEmails(e)
	if len(emails) == 0 && fetch != nil {
		if href := selfLink(e.Links); href != "" {
			if full, err := fetch(ctx, href); err == nil {
				emails, prefs, name = vcardEmails(full)
			}
		}
	}
	out := make([]Contact, len(emails))
	for i, email := range emails {
		out[i] = Contact{Email: email, Name: name, Handle: e.Handle, Pref: prefs[i]}
	}
	return out
}

// domainContacts are abuse contacts of a domain outside its registrar.
func domainContacts(ctx context.Context, server, object string, entities []rdap.Entity, fetch entityFetcher) []Contact {
	var others []rdap.Entity
	for _, e := range entities {
		if !hasRole(&e, "registrar") {
			others = append(others, e)
		}
	}
	return abuseContacts(ctx, server, object, others, nil, nil, false, fetch)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// relatedRDAP returns the registrar's RDAP URL a registry answer links to.
func relatedRDAP(links []rdap.Link) string {
	for _, l := range links {
		if strings.EqualFold(l.Rel, "related") && strings.Contains(strings.ToLower(l.Type), "application/rdap+json") && l.Href != "" {
			return l.Href
		}
	}
	return ""
}
