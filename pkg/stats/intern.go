package stats

// interner gives each distinct string a small id, so a summary holds
// numbers: a million cases name a few thousand hosters, countries and
// domains. Id 0 is the empty string. Ids are never reused; the tables
// grow with the distinct values ever seen by this run of the aggregate.
type interner struct {
	ids   map[string]uint32
	names []string
	limit uint32
}

func newInterner(limit uint32) *interner {
	return &interner{ids: map[string]uint32{"": 0}, names: []string{""}, limit: limit}
}

// id returns the id of s, adding it; past the table's limit a new string
// gets 0 (counted as unknown rather than wrapping into another's id).
func (t *interner) id(s string) uint32 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	if uint32(len(t.names)) >= t.limit {
		return 0
	}
	id := uint32(len(t.names))
	t.ids[s] = id
	t.names = append(t.names, s)
	return id
}

// lookup returns the id of s without adding it.
func (t *interner) lookup(s string) (uint32, bool) {
	id, ok := t.ids[s]
	return id, ok
}

func (t *interner) name(id uint32) string {
	if int(id) < len(t.names) {
		return t.names[id]
	}
	return ""
}

func (t *interner) size() int { return len(t.names) }
