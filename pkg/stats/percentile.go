package stats

// percentiles returns the nearest-rank percentiles ps (0 < p ≤ 100, in
// decreasing order) of values (nanoseconds), in seconds, reordering
// values: the p-th percentile is the value at rank ⌈p/100 · n⌉ of the
// sorted values, so it is always one of the values and "p90 = 3600"
// reads "90 % were done within an hour". Each is selected, not sorted
// for: the next, smaller one is looked for only among the values below
// the last. Nil for each when there are no values.
func percentiles(values []uint64, ps ...int) []*float64 {
	out := make([]*float64, len(ps))
	if len(values) == 0 {
		return out
	}
	upto := len(values)
	for i, p := range ps {
		k := max((p*len(values)+99)/100, 1) - 1 // ⌈p·n/100⌉, from 0
		selectNth(values[:upto], k)
		s := float64(values[k]) / 1e9
		out[i] = &s
		upto = k + 1
	}
	return out
}

func durations(values []uint64) Durations {
	p := percentiles(values, 99, 90, 50)
	return Durations{Count: len(values), P50: p[2], P90: p[1], P99: p[0]}
}

// since is the time from a to b in nanoseconds, 0 when b is before a.
func since(a, b int64) uint64 { return uint64(max(b-a, 0)) }

func share(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	s := float64(n) / float64(of)
	return &s
}
