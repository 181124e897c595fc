package load

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// connect reaches the daemon's NATS as role r with the key in seedFile,
// reconnecting for as long as the run lasts: a daemon that is killed takes
// its embedded server with it, and the restarted one comes back on the
// same port.
func connect(urls string, r broker.Role, seedFile string) (*nats.Conn, error) {
	opts, err := broker.ClientOptions(r, seedFile)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name("takedownsim-"+string(r)), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.ReconnectBufSize(-1))
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", urls, r, err)
	}
	return nc, nil
}

// followEvents reads the daemon's audit trail (TAKEDOWN_EVENTS) from its
// start into st until ctx ends, with an ordered consumer that picks up
// where it was after the server comes back.
func followEvents(ctx context.Context, js jetstream.JetStream, st *stats, log *slog.Logger) error {
	var cons jetstream.Consumer
	for {
		var err error
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err = js.OrderedConsumer(cctx, "TAKEDOWN_EVENTS", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Debug("events consumer not there yet", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var stored time.Time
		if md, err := m.Metadata(); err == nil {
			stored = md.Timestamp
		}
		st.onEvent(m.Data(), stored)
	},
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			log.Debug("events consumer", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// report is a v1 report as the analyst tool publishes it.
type report struct {
	ReportID       string            `json:"report_id"`
	URL            string            `json:"url"`
	ConfirmedAt    string            `json:"confirmed_at"`
	Classification string            `json:"classification"`
	Hashes         map[string]string `json:"hashes,omitempty"`
	Source         string            `json:"source"`
}

// publisher sends the run's reports in windows: up to window in flight,
// then it waits for every acknowledgement and sends the failed ones
// again (same Nats-Msg-Id, so JetStream keeps one) until each is stored.
// Memory is one window, whatever the number of reports.
type publisher struct {
	js      jetstream.JetStream
	subject string
	st      *stats
	w       *world.World
	window  int
	rate    float64 // reports per second; 0: as fast as acks come
	dup     float64
	seed    uint64
	log     *slog.Logger

	urls    int // distinct URLs so far
	retries int64
	first   time.Time
	last    time.Time
}

// message builds report i and returns it with its URL index.
func (p *publisher) message(i int, now time.Time) (*nats.Msg, int) {
	n := p.urls
	if i > 0 && p.dup > 0 && world.Draw(p.seed, "dup", i) < p.dup {
		n = int(world.Draw(p.seed, "dupof", i) * float64(p.urls))
	} else {
		p.urls++
	}
	u := world.URL(p.w.Host(p.st.host(n)), n)
	id := p.st.prefix + strconv.Itoa(i)
	body, _ := json.Marshal(report{
		ReportID: id, URL: u, ConfirmedAt: now.UTC().Format(time.RFC3339Nano), Classification: "A1",
		Hashes: map[string]string{"sha256": world.ContentSHA256(u)}, Source: "takedownsim load",
	})
	msg := nats.NewMsg(p.subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	return msg, n
}

// run publishes reports from..to-1.
func (p *publisher) run(ctx context.Context, from, to int) error {
	start := time.Now()
	if p.first.IsZero() {
		p.first = start
	}
	type pending struct {
		i   int
		msg *nats.Msg
		f   jetstream.PubAckFuture
	}
	window := p.window
	if p.rate > 0 {
		// Windows of a tenth of a second's reports, so the rate holds
		// within the second.
		window = max(1, min(window, int(p.rate/10)))
	}
	batch := make([]pending, 0, window)
	for i := from; i < to; {
		end := min(i+window, to)
		if p.rate > 0 {
			// Keep the average rate: window k may start at k*window/rate.
			due := start.Add(time.Duration(float64(i-from) / p.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			}
		}
		batch = batch[:0]
		now := time.Now()
		for j := i; j < end; j++ {
			msg, n := p.message(j, now)
			p.st.published(j, n, now)
			batch = append(batch, pending{i: j, msg: msg})
		}
		for len(batch) > 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for k := range batch {
				f, err := p.js.PublishMsgAsync(batch[k].msg)
				if err != nil {
					batch[k].f = nil
					continue
				}
				batch[k].f = f
			}
			failed := batch[:0]
			for _, b := range batch {
				if b.f == nil {
					failed = append(failed, b)
					continue
				}
				select {
				case <-b.f.Ok():
					p.st.ack(b.i)
				case err := <-b.f.Err():
					p.log.Debug("publish failed, again", "report", b.i, "err", err)
					failed = append(failed, b)
				case <-time.After(30 * time.Second):
					failed = append(failed, b)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if len(failed) > 0 {
				p.retries += int64(len(failed))
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(250 * time.Millisecond):
				}
			}
			batch = failed
		}
		p.last = time.Now()
		i = end
	}
	return nil
}
