package stats

import "slices"

// percentiles returns the nearest-rank percentiles ps (0 < p ≤ 100) of
// values (nanoseconds), in seconds, sorting values in place: the p-th
// percentile is the value at rank ⌈p/100 · n⌉ of the sorted values, so
// it is always one of the values and "p90 = 3600" reads "90 % were done
// within an hour". Nil for each when there are no values.
func percentiles(values []int64, ps ...int) []*float64 {
	out := make([]*float64, len(ps))
	if len(values) == 0 {
		return out
	}
	slices.Sort(values)
	for i, p := range ps {
		rank := (p*len(values) + 99) / 100 // ⌈p·n/100⌉
		s := float64(values[max(rank, 1)-1]) / 1e9
		out[i] = &s
	}
	return out
}

func durations(values []int64) Durations {
	p := percentiles(values, 50, 90, 99)
	return Durations{Count: len(values), P50: p[0], P90: p[1], P99: p[2]}
}

func share(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	s := float64(n) / float64(of)
	return &s
}
