package load

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	var h hist
	for i := 1; i <= 10_000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Second}, {0.9, 9 * time.Second}, {0.99, 9900 * time.Millisecond}} {
		got := h.quantile(tc.q)
		if diff := got - tc.want; diff < -tc.want/50 || diff > tc.want/50 {
			t.Errorf("q%.2f = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	if s := h.summary(); s.N != 10_000 || s.Max != 10*time.Second {
		t.Errorf("summary = %+v", s)
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	h.add(-time.Second)
	if h.under != 1 {
		t.Errorf("negative sample not counted apart")
	}
}
