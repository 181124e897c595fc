package inbound

import (
	"path/filepath"
	"testing"
)

// BenchmarkParse measures reading, classifying and matching the samples
// (no NATS): the CPU cost of one inbound message.
func BenchmarkParse(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	raws := make([][]byte, len(files))
	for i, f := range files {
		raws[i] = sample(b, filepath.Base(f))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, err := parse(raws[i%len(raws)])
		if err != nil {
			b.Fatal(err)
		}
		_ = candidates(p, testDomains, nil)
		_ = excerpt(p.Text)
		i++
	}
}
