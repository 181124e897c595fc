package store

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Parking frees a worker from work that waits on something slow outside
// (enrichment's cold RDAP networks, behind a registry's rate limit) so
// that work which needs nothing slow can pass it. In a burst over
// thousands of cold networks every worker would otherwise sit on a case
// whose network is still in the registry's queue, while the cases of the
// networks already known — half of them after a few minutes — wait
// behind, and the cores stay idle.
//
// A parked message stays this replica's: it is not acked or nak'ed, its
// progress is signalled as a handler's is, and once ready closes it goes
// back to the workers, flagged (Unparked) so that its handler runs it to
// the end this time. At a stop it is handed back at once like any message
// not started. A parked message counts against the consumer's
// MaxAckPending, which bounds the parked messages of every replica
// together; ConsumeOptions.MaxParked bounds this one's.

// Park takes msg, a message Consume handed to the handler now running,
// off the handler's hands until ready is closed: the handler must then
// return without settling it. It returns false — the handler goes on and
// waits itself — when the message did not come from a Consume that parks,
// when it comes back from a park already, when MaxParked messages are
// parked, or when the Consume is stopping.
func Park(msg jetstream.Msg, ready <-chan struct{}) bool {
	h, ok := msg.(handedMsg)
	if !ok || h.run == nil || h.unparked || h.isAbandoned() {
		return false
	}
	return h.run.park(h.Msg, ready)
}

// Unparked reports whether msg comes back from a park.
func Unparked(msg jetstream.Msg) bool {
	h, ok := msg.(handedMsg)
	return ok && h.unparked
}

// unparkedMsg is a parked message on its way back to the workers.
type unparkedMsg struct{ jetstream.Msg }

func (r *consumeRun) park(msg jetstream.Msg, ready <-chan struct{}) bool {
	if r.parked.Add(1) > int64(r.opts.MaxParked) {
		r.parked.Add(-1)
		return false
	}
	select {
	case <-r.stopping:
		r.parked.Add(-1)
		return false
	default:
	}
	go r.holdParked(msg, ready)
	return true
}

// holdParked signals the parked message's progress until ready closes,
// then queues it for the workers (signalling on while they are all busy).
// A stop hands it back; should the stop come as it is queued, so that it
// sits in the queue after the stop drained it, the ack wait brings it
// back to a replica.
func (r *consumeRun) holdParked(msg jetstream.Msg, ready <-chan struct{}) {
	defer r.parked.Add(-1)
	t := time.NewTicker(r.every)
	defer t.Stop()
	var queue chan<- jetstream.Msg
	for {
		select {
		case <-ready:
			ready, queue = nil, r.work
		case queue <- unparkedMsg{msg}:
			return
		case <-t.C:
			_ = msg.InProgress()
		case <-r.stopping:
			r.handBack(msg)
			return
		}
	}
}
