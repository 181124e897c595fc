package load

import (
	"encoding/json"
	"math"
	"time"
)

// hist is a log-linear histogram of durations: 64 buckets per power of
// two from 1 ms, so a quantile is within about 1 % of the true value, in
// a fixed few kilobytes however many samples a run adds.
type hist struct {
	counts [40 * 64]int64
	n      int64
	sum    time.Duration
	max    time.Duration
	under  int64 // samples below 0 (clock skew between two sources)
}

const subBuckets = 64

func (h *hist) add(d time.Duration) {
	if d < 0 {
		h.under++
		d = 0
	}
	h.n++
	h.sum += d
	h.max = max(h.max, d)
	h.counts[bucketOf(d)]++
}

func bucketOf(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 1 {
		return 0
	}
	e := math.Floor(math.Log2(ms))
	frac := ms/math.Exp2(e) - 1 // [0, 1)
	i := 1 + int(e)*subBuckets + int(frac*subBuckets)
	return min(i, len(hist{}.counts)-1)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) time.Duration {
	if i == 0 {
		return 0
	}
	i--
	e, sub := i/subBuckets, i%subBuckets
	ms := math.Exp2(float64(e)) * (1 + (float64(sub)+0.5)/subBuckets)
	return time.Duration(ms * float64(time.Millisecond))
}

// quantile returns the q-quantile (0 < q ≤ 1), or 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketValue(i), h.max)
		}
	}
	return h.max
}

// Quantiles is a distribution as a report shows it.
type Quantiles struct {
	N    int64         `json:"n"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

func (h *hist) summary() Quantiles {
	q := Quantiles{N: h.n, P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99), Max: h.max}
	if h.n > 0 {
		q.Mean = h.sum / time.Duration(h.n)
	}
	return q
}

// MarshalJSON writes durations as seconds, which a reader of the JSON
// can compare without knowing Go's nanoseconds.
func (q Quantiles) MarshalJSON() ([]byte, error) {
	s := func(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
	return json.Marshal(map[string]any{"n": q.N, "p50_s": s(q.P50), "p90_s": s(q.P90), "p99_s": s(q.P99), "max_s": s(q.Max), "mean_s": s(q.Mean)})
}
