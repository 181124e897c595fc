package dashboard

import (
	"strconv"

	"github.com/takedownd/takedownd/pkg/stats"
)

// histogram is the removal-time histogram of the overview, laid out for
// an inline SVG: one bar per window between the statistics' removal
// windows (within 1 h, 1–12 h, … , over 7 d of confirmation).
type histogram struct {
	Bars          []bar
	Width, Height int
	// Base is the y of the bars' foot; Total the removed cases counted.
	Base, Total int
}

type bar struct {
	Label  string
	Count  int
	X, Y   int
	W, H   int
	LabelX int
	// CountY is where the count is written, above the bar.
	CountY int
}

// Layout of the SVG, in its own units.
const (
	histWidth  = 600
	histHeight = 220
	histTop    = 20
	histBase   = 180
	histGap    = 12
)

// removalHistogram counts the removed cases by time from confirmation to
// removal. The statistics give how many were removed within each window
// (cumulative), and the removal times count every removed case: the
// difference of neighbours is a bar, and what the last window leaves is
// the bar of over 7 d. It is the same figures as /v1/stats, cut into
// bins, so the chart and the API cannot disagree.
func removalHistogram(st stats.Stats) histogram {
	h := histogram{Width: histWidth, Height: histHeight, Base: histBase, Total: st.ToRemoval.Count}
	var counts []int
	var labels []string
	prev, prevLabel := 0, ""
	for _, w := range st.RemovedWithin {
		counts = append(counts, max(w.Removed-prev, 0))
		if prevLabel == "" {
			labels = append(labels, "≤ "+w.Window)
		} else {
			labels = append(labels, prevLabel+"–"+w.Window)
		}
		prev, prevLabel = w.Removed, w.Window
	}
	if prevLabel != "" {
		counts = append(counts, max(st.ToRemoval.Count-prev, 0))
		labels = append(labels, "> "+prevLabel)
	}
	if len(counts) == 0 {
		return h
	}
	top := 1
	for _, c := range counts {
		top = max(top, c)
	}
	bw := (histWidth - histGap*(len(counts)+1)) / len(counts)
	for i, c := range counts {
		hgt := c * (histBase - histTop) / top
		x := histGap + i*(bw+histGap)
		h.Bars = append(h.Bars, bar{
			Label: labels[i], Count: c, X: x, Y: histBase - hgt, W: bw, H: hgt,
			LabelX: x + bw/2, CountY: histBase - hgt - 4,
		})
	}
	return h
}

// Title is the chart's accessible title.
func (h histogram) Title() string {
	return "Time from confirmation to removal of " + strconv.Itoa(h.Total) + " removed cases"
}
