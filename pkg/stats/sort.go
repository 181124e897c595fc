package stats

import (
	"math/bits"
	"slices"
	"sync"
)

// The statistics pick three percentiles out of up to a million durations
// and count the distinct URL hashes among as many, per request. Neither
// needs a full sort: a selection finds an order statistic in a few
// passes, and hashes that are uniformly random sort in one bucketing
// pass.

// selectNth reorders v so that v[k] is the value a sort would put there,
// with no greater value before it and no smaller one after. It is
// introselect: quickselect on a median-of-three pivot, falling back to a
// sort of what is left when the partitions keep coming out lopsided.
func selectNth(v []uint64, k int) {
	lo, hi := 0, len(v)
	budget := 2 * bits.Len(uint(len(v)))
	for hi-lo > 16 {
		if budget == 0 {
			slices.Sort(v[lo:hi])
			return
		}
		budget--
		p := medianOfThree(v[lo], v[lo+(hi-lo)/2], v[hi-1])
		// Three-way partition: < p, == p, > p.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch {
			case v[i] < p:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] > p:
				gt--
				v[gt], v[i] = v[i], v[gt]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return // v[k] == p
		}
	}
	slices.Sort(v[lo:hi])
}

func medianOfThree(a, b, c uint64) uint64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}

// countDistinct counts the distinct values of hashes (uniformly random
// 64-bit values), reordering them: one pass buckets them by their top
// bits into tmp, and each bucket, a few values long, is sorted on its own.
func countDistinct(hashes, tmp []uint64) int {
	if len(hashes) < 1024 {
		slices.Sort(hashes)
		return distinctSorted(hashes)
	}
	// About 16 values a bucket, at most 65,536 buckets.
	shift := 64 - min(bits.Len(uint(len(hashes)))-4, 16)
	starts := make([]int, 1<<(64-shift)+1)
	for _, h := range hashes {
		starts[(h>>shift)+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	next := slices.Clone(starts[:len(starts)-1])
	for _, h := range hashes {
		b := h >> shift
		tmp[next[b]] = h
		next[b]++
	}
	n := 0
	for b := 0; b+1 < len(starts); b++ {
		bucket := tmp[starts[b]:starts[b+1]]
		slices.Sort(bucket)
		n += distinctSorted(bucket)
	}
	return n
}

func distinctSorted(v []uint64) int {
	n := 0
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			n++
		}
	}
	return n
}

// buffers are the scratch slices of one request, reused across requests
// so a million-case answer does not leave megabytes for the collector.
type buffers struct {
	notice, removal, reaction, urls, tmp []uint64
	ids                                  []uint32
}

// bufferPool holds an aggregate's buffers between requests.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) get() *buffers {
	if b, ok := bp.p.Get().(*buffers); ok {
		return b
	}
	return new(buffers)
}

func (bp *bufferPool) put(b *buffers) {
	b.notice, b.removal, b.reaction, b.urls, b.ids = b.notice[:0], b.removal[:0], b.reaction[:0], b.urls[:0], b.ids[:0]
	bp.p.Put(b)
}

// scratch returns tmp with room for n values.
func (b *buffers) scratch(n int) []uint64 {
	if cap(b.tmp) < n {
		b.tmp = make([]uint64, n)
	}
	return b.tmp[:n]
}
