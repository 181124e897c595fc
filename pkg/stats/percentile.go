package stats

import (
	"math/bits"
	"slices"
)

// percentiles returns the nearest-rank percentiles ps (0 < p ≤ 100) of
// values (nanoseconds), in seconds: the p-th percentile is the value at
// rank ⌈p/100 · n⌉ of the sorted values, so it is always one of the values
// and "p90 = 3600" reads "90 % were done within an hour". Nil for each
// when there are no values. values is reordered.
//
// Nothing is sorted: one pass counts the values into 65,536 buckets by
// their top bits, which tells the bucket each rank falls in; a second
// pass gathers those few buckets' values, among which the rank is
// selected (selectNth). Two passes over memory instead of a sort's
// n·log n.
func percentiles(values []uint64, ps ...int) []*float64 {
	out := make([]*float64, len(ps))
	if len(values) == 0 {
		return out
	}
	var top uint64
	for _, v := range values {
		top = max(top, v)
	}
	shift := uint(max(bits.Len64(top)-16, 0))
	var count [1 << 16]int
	for _, v := range values {
		count[v>>shift]++
	}
	type want struct {
		bucket uint64
		k      int // the rank within the bucket, from 0
	}
	wants := make([]want, len(ps))
	for i, p := range ps {
		k := max((p*len(values)+99)/100, 1) - 1 // ⌈p·n/100⌉, from 0
		b := 0
		for ; k >= count[b]; b++ {
			k -= count[b]
		}
		wants[i] = want{uint64(b), k}
	}
	// The few buckets wanted (ranks often share one), and their values.
	var buckets []uint64
	for _, w := range wants {
		if !slices.Contains(buckets, w.bucket) {
			buckets = append(buckets, w.bucket)
		}
	}
	gathered := make([][]uint64, len(buckets))
	for i, b := range buckets {
		gathered[i] = make([]uint64, 0, count[b])
	}
	for _, v := range values {
		b := v >> shift
		for i, want := range buckets {
			if b == want {
				gathered[i] = append(gathered[i], v)
				break
			}
		}
	}
	for i, w := range wants {
		g := gathered[slices.Index(buckets, w.bucket)]
		selectNth(g, w.k)
		s := float64(g[w.k]) / 1e9
		out[i] = &s
	}
	return out
}

func durations(values []uint64) Durations {
	p := percentiles(values, 50, 90, 99)
	return Durations{Count: len(values), P50: p[0], P90: p[1], P99: p[2]}
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
