package stats

import "time"

// Due returns up to n ids of closed cases that retention has still to
// anonymise, oldest id first: those whose last change was before
// `before`, and those whose anonymisation a stop left half-done (whatever
// their age). It scans the summaries in memory, never the bucket; the
// caller reads each case again before it acts.
func (a *Aggregate) Due(before time.Time, n int) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cur == nil {
		return nil
	}
	cut := before.UnixNano()
	var out []string
	for i := range a.cur.entries {
		e := &a.cur.entries[i]
		if e.open() || e.flags&flagComplete != 0 {
			continue
		}
		if e.flags&flagAnonymised != 0 || e.closed < cut {
			out = append(out, e.key.String())
			if len(out) == n {
				break
			}
		}
	}
	return out
}
