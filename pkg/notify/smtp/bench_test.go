package smtp

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
)

// benchMessage renders a realistic notice of five URLs.
func benchMessage(b testing.TB) []byte {
	b.Helper()
	r, err := notice.NewRenderer(notice.Config{})
	if err != nil {
		b.Fatal(err)
	}
	n := notice.Notice{
		Ref: "TD-BENCH", Kind: notice.KindFirst, Lang: "nl", Level: notice.LevelHoster,
		From: "abuse@hotline.example", To: []string{"abuse@hoster.example"},
		Hotline:  notice.Hotline{Name: "Meldpunt", Country: "NL"},
		Deadline: 24 * time.Hour, SentAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
	}
	for i := range 5 {
		n.Items = append(n.Items, notice.Item{
			CaseID: fmt.Sprint("case-", i), URL: fmt.Sprintf("https://files.hoster.example/%d.jpg", i),
			IPs: []string{"192.0.2.10"}, ConfirmedAt: n.SentAt.Add(-time.Hour), Classification: "A1",
		})
	}
	m, err := r.Render(n)
	if err != nil {
		b.Fatal(err)
	}
	return m.Raw
}

// BenchmarkSendPooled measures messages per second to a loopback relay
// through the connection pool, with as many senders as pool slots.
func BenchmarkSendPooled(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts smtpsim.Options
		mode TLSMode
	}{
		{name: "plain", mode: TLSNone},
		{name: "starttls", opts: smtpsim.Options{StartTLS: true}, mode: TLSStartTLS},
	} {
		b.Run(tc.name, func(b *testing.B) {
			msg := benchMessage(b)
			sim := startSim(b, tc.opts)
			s := newSender(b, sim, func(c *Config) { c.TLS, c.PoolSize = tc.mode, 4 })
			b.SetParallelism(4)
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if res := s.Send(b.Context(), "abuse@hotline.example", []string{"abuse@hoster.example"}, msg); res.Err != nil {
						b.Error(res.Err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// TestSendRenderedNotice sends a real rendered notice twice, as after a crash
// between send and record: the relay sees the same Message-ID both times.
func TestSendRenderedNotice(t *testing.T) {
	t.Parallel()
	msg := benchMessage(t)
	sim := startSim(t, smtpsim.Options{StartTLS: true})
	s := newSender(t, sim, func(c *Config) { c.TLS = TLSStartTLS })
	for range 2 {
		if res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@hoster.example"}, msg); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	got := sim.Messages()
	if len(got) != 2 {
		t.Fatalf("relay kept %d messages, want 2", len(got))
	}
	for i, m := range got {
		if !bytes.Equal(m.Data, msg) {
			t.Errorf("message %d arrived changed", i)
		}
		if !bytes.Contains(m.Data, []byte("Message-Id: <TD-BENCH@hotline.example>")) {
			t.Errorf("message %d lacks the fixed Message-ID", i)
		}
	}
}
