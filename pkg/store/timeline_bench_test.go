package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// BenchmarkTimeline reads 100,000 case timelines in a row (10,000 cases
// of 12 events, round robin) and reports the latency of one read. Every
// read must answer. "direct_batch" is Timeline (one batched direct get
// per case); "get_next" is the alternative that also leaves nothing on
// the server, one stream message get by next-by-subject per event.
//
//	go test -run '^$' -bench BenchmarkTimeline -benchtime 1x -timeout 30m ./pkg/store
func BenchmarkTimeline(b *testing.B) {
	const cases, perCase, reads = 10000, 12, 100000
	st := openStoreTB(b)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, cases)
	for i := range ids {
		ids[i] = CaseID(base.Add(time.Duration(i)*time.Second), uint64(i+1))
	}
	// Events of different cases interleave in the stream, as they do live.
	for j := range perCase {
		var evs []takedown.Event
		for _, id := range ids {
			evs = append(evs, takedown.Event{
				ID: id + "-" + string(rune('a'+j)), CaseID: id, Type: takedown.EventChecked,
				At: base.Add(time.Duration(j) * time.Hour), Actor: "recheck", Reason: "online: 200 OK, content unchanged",
			})
			if len(evs) == 1000 {
				if err := st.AppendEvents(b.Context(), evs...); err != nil {
					b.Fatal(err)
				}
				evs = evs[:0]
			}
		}
	}
	stream, err := st.JetStream().Stream(b.Context(), EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	getNext := func(ctx context.Context, id string) (int, error) {
		n := 0
		for seq := uint64(1); ; n++ {
			raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(EventsPrefix+id))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			var ev takedown.Event
			if err := json.Unmarshal(raw.Data, &ev); err != nil {
				return n, err
			}
			seq = raw.Sequence + 1
		}
	}
	for _, bc := range []struct {
		name string
		read func(ctx context.Context, id string) (int, error)
	}{
		{"direct_batch", func(ctx context.Context, id string) (int, error) {
			tl, err := st.Timeline(ctx, id)
			return len(tl), err
		}},
		{"get_next", getNext},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				lat := make([]time.Duration, 0, reads)
				for i := range reads {
					start := time.Now()
					n, err := bc.read(b.Context(), ids[i%cases])
					lat = append(lat, time.Since(start))
					if err != nil || n != perCase {
						b.Fatalf("read %d: %d events, %v", i, n, err)
					}
				}
				slices.Sort(lat)
				q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
				b.ReportMetric(q(0.50), "p50-µs")
				b.ReportMetric(q(0.95), "p95-µs")
				b.ReportMetric(q(0.99), "p99-µs")
				b.ReportMetric(float64(reads), "reads")
			}
		})
	}
}
