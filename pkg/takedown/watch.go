package takedown

// Watched reports whether re-checks run for the case: it is open, and a
// notice or forward went out for it (it is noticed, forwarded or removed,
// or it was at some point: its checks began, or a notice to it was sent).
// A watched case stays watched in every later open state — routed again,
// enriched again, under review — until it closes, because the abuse ends
// only when the material is gone, and a removal must be confirmed
// wherever the case stands. Nothing that happens to a notice (a bounce,
// real or forged) and nothing a hoster can make happen takes a case off
// this list; only closing does.
func (c *Case) Watched() bool {
	if !c.State.Open() {
		return false
	}
	switch c.State {
	case StateNoticed, StateForwarded, StateRemoved:
		return true
	}
	if cs := c.Checks; cs != nil && (!cs.WatchedSince.IsZero() || cs.Checks > 0 || !cs.RemovedAt.IsZero()) {
		return true
	}
	return c.Delivered()
}

// Delivered reports whether a first notice, forward or reappearance
// notice of the case is recorded as delivered. A bounce marks its notice
// failed afterwards; the case stays watched all the same, because its
// checks began when the notice went out (CheckState.WatchedSince).
func (c *Case) Delivered() bool {
	for _, n := range c.Notices {
		switch n.Kind {
		case NoticeKindFirst, NoticeKindForward, "reappeared", "":
			if n.Outcome == "sent" {
				return true
			}
		}
	}
	return false
}
