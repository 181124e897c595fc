package load

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// stats follows a run as it goes, in memory that grows with the number of
// URLs only (a few dozen bytes each), never with events or notices: times
// go into histograms, counts into counters.
type stats struct {
	w      *world.World
	hosts  int
	prefix string // report ids are prefix + index

	mu sync.Mutex
	// Per URL (its index n in the world's table).
	confirmed []int64  // first confirmation (Unix ns); 0: not published
	noticed   []int64  // first notice or forward naming it, as the world got it
	firstTo   []uint32 // hash of that notice's recipients
	firstRef  []uint32 // hash of its reference
	removed   []int64  // the daemon's first removed event after the world removed
	// The stream times of the URL's case's first received, enriched and
	// routed events: where its way to the first notice went.
	receivedAt, enrichedAt, routedAt []int64
	// reportURL is the URL index of report i.
	reportURL []int32
	acked     []bool
	nAcked    atomic.Int64
	cases     map[string]int32 // case id -> URL index

	noticeDelay  hist // confirmation -> first notice
	removalDelay hist // world removal -> daemon's removed event
	// withinHour counts the first notices that came within an hour of
	// the confirmation.
	withinHour int64
	// Per stage, the time each URL spent in it, and when (from the first
	// publish) it left it: the first says where a URL waits, the second
	// when a stage was done with the burst, and so which stage bounds it.
	stageDelay [nStages]hist
	stageDone  [nStages]hist
	// escalation_chain events: how many, and when they came.
	chains    int64
	chainDone hist
	// start is when the first report went out (Unix ns; 0: not yet).
	start int64

	byKind     map[string]int64
	perContact map[string]int64
	notices    int64
	resent     int64 // the same notice (reference) again: a resend after a crash or a 4xx
	dupFirst   int64 // a second first notice, another reference, to the same contact
	rerouted   int64 // a first notice or forward to another contact (moved, CDN, bounce)
	falseRem   int64 // removal confirmed while the world served the material
	spellRem   int64 // removal confirmed in a flapping site's gone spell
	events     int64
	received   int64
	joined     int64
	inFirst    time.Time // first received/joined event
	inLast     time.Time
}

// The stages of a URL's way to its first notice, as the load tool sees
// them: the daemon's events (intake's received, enrich's enriched,
// route's routed) and the world's relay or webhook (the notice).
const (
	stageIntake = iota // confirmation -> received
	stageEnrich        // received -> enriched
	stageRoute         // enriched -> routed
	stageNotify        // routed -> first notice at the world (batching window included)
	nStages
)

var stageNames = [nStages]string{"intake", "enrich", "route", "notify"}

func newStats(w *world.World, hosts, reports int, prefix string) *stats {
	return &stats{
		w: w, hosts: hosts, prefix: prefix,
		receivedAt: make([]int64, reports), enrichedAt: make([]int64, reports), routedAt: make([]int64, reports),
		confirmed: make([]int64, reports), noticed: make([]int64, reports),
		firstTo: make([]uint32, reports), firstRef: make([]uint32, reports), removed: make([]int64, reports),
		reportURL: make([]int32, reports), acked: make([]bool, reports),
		cases: map[string]int32{}, byKind: map[string]int64{}, perContact: map[string]int64{},
	}
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32() | 1 // never 0, which means "none"
}

// host is the generated host URL n sits on.
func (s *stats) host(n int) int { return n % s.hosts }

// urlIndex returns n for a world URL this run published.
func (s *stats) urlIndex(u string) (int, bool) {
	i := strings.Index(u, "/c/")
	if i < 0 {
		return 0, false
	}
	n, ok := world.URLNumber(u[i:])
	return n, ok && n < len(s.confirmed)
}

// reportIndex returns i for a report id of this run.
func (s *stats) reportIndex(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, s.prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0 && i < len(s.reportURL)
}

// published notes report i of URL n, confirmed at t.
func (s *stats) published(i, n int, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportURL[i] = int32(n)
	if s.start == 0 {
		s.start = t.UnixNano()
	}
	if s.confirmed[n] == 0 {
		s.confirmed[n] = t.UnixNano()
	}
}

func (s *stats) ack(i int) {
	s.mu.Lock()
	if !s.acked[i] {
		s.acked[i] = true
		s.nAcked.Add(1)
	}
	s.mu.Unlock()
}

// ackedCount is how many reports JetStream acknowledged so far.
func (s *stats) ackedCount() int64 { return s.nAcked.Load() }

// takenIn is how many reports the daemon's trail shows in cases so far.
func (s *stats) takenIn() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received + s.joined
}

// onNotice is the world's watcher: every notice and forward as it arrived.
func (s *stats) onNotice(n world.Notice) {
	at := n.At.UnixNano()
	to := hash32(strings.Join(n.To, ","))
	ref := hash32(n.Ref)
	first := n.Kind == "first" || n.Kind == "forward"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices++
	s.byKind[n.Kind]++
	for _, rcpt := range n.To {
		s.perContact[rcpt]++
	}
	if !first {
		return
	}
	for _, it := range n.Items {
		u, ok := s.urlIndex(it.URL)
		if !ok {
			continue
		}
		switch {
		case s.noticed[u] == 0:
			s.noticed[u], s.firstTo[u], s.firstRef[u] = at, to, ref
			if c := s.confirmed[u]; c != 0 {
				s.noticeDelay.add(time.Duration(at - c))
				if time.Duration(at-c) <= time.Hour {
					s.withinHour++
				}
			}
			// The trail may lag behind the relay: a routed event read
			// later adds the notify stage's time then.
			s.passed(stageNotify, u, s.routedAt[u], at)
		case s.firstRef[u] == ref:
			s.resent++
		case s.firstTo[u] == to:
			s.dupFirst++
		default:
			s.rerouted++
		}
	}
}

// event is the part of a takedown.Event the tool reads.
type event struct {
	CaseID string    `json:"case_id"`
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
	Data   struct {
		ReportID string `json:"report_id"`
	} `json:"data"`
}

// onEvent takes one event of the daemon's audit trail, stored in the
// stream at stored.
func (s *stats) onEvent(data []byte, stored time.Time) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events++
	switch ev.Type {
	case "received", "report_joined":
		i, ok := s.reportIndex(ev.Data.ReportID)
		if !ok {
			return
		}
		if ev.Type == "received" {
			s.received++
		} else {
			s.joined++
		}
		// A received event carries the report's own time; when intake
		// wrote it is the stream's.
		if s.inFirst.IsZero() || stored.Before(s.inFirst) {
			s.inFirst = stored
		}
		if stored.After(s.inLast) {
			s.inLast = stored
		}
		if _, known := s.cases[ev.CaseID]; !known {
			n := s.reportURL[i]
			s.cases[ev.CaseID] = n
			if ev.Type == "received" && s.receivedAt[n] == 0 {
				s.receivedAt[n] = stored.UnixNano()
				s.passed(stageIntake, int(n), s.confirmed[n], s.receivedAt[n])
			}
		}
	case "enriched", "routed":
		n, ok := s.cases[ev.CaseID]
		if !ok {
			return
		}
		at := stored.UnixNano()
		if ev.Type == "enriched" && s.enrichedAt[n] == 0 {
			s.enrichedAt[n] = at
			s.passed(stageEnrich, int(n), s.receivedAt[n], at)
		}
		if ev.Type == "routed" && s.routedAt[n] == 0 {
			s.routedAt[n] = at
			s.passed(stageRoute, int(n), s.enrichedAt[n], at)
			if s.noticed[n] != 0 {
				s.stageDelay[stageNotify].add(time.Duration(s.noticed[n] - at))
			}
		}
	case "escalation_chain":
		s.chains++
		if s.start != 0 {
			s.chainDone.add(time.Duration(stored.UnixNano() - s.start))
		}
	case "removed":
		n, ok := s.cases[ev.CaseID]
		if !ok || s.removed[n] != 0 {
			return
		}
		h := s.host(int(n))
		if s.w.OnlineAtN(h, int(n), ev.At) {
			s.falseRem++
			return
		}
		gone, ok := s.w.RemovedAtN(h, int(n))
		if !ok || ev.At.Before(gone) {
			s.spellRem++ // gone for a while, and back later
			return
		}
		s.removed[n] = ev.At.UnixNano()
		s.removalDelay.add(ev.At.Sub(gone))
	}
}

// progress is a one-line view of the run so far.
type progress struct {
	published, acked, received, noticed, removedWorld, removedDaemon int
	enriched, routed                                                 int
	chains                                                           int64
	// wantNotice are the URLs a notice can reach (their host resolves),
	// wantRemoval those whose hoster will remove.
	wantNotice, wantRemoval int
	notices, events         int64
}

func (s *stats) progress(urls int) progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := progress{received: int(s.received + s.joined), notices: s.notices, events: s.events, acked: int(s.nAcked.Load()), chains: s.chains}
	for n := range urls {
		if s.confirmed[n] == 0 {
			continue
		}
		p.published++
		h := s.host(n)
		if s.w.ResolvesN(h) {
			p.wantNotice++
		}
		if s.w.WillRemoveN(h) {
			p.wantRemoval++
		}
		if s.noticed[n] != 0 {
			p.noticed++
		}
		if s.enrichedAt[n] != 0 {
			p.enriched++
		}
		if s.routedAt[n] != 0 {
			p.routed++
		}
		if _, ok := s.w.RemovedAtN(h, n); ok {
			p.removedWorld++
			if s.removed[n] != 0 {
				p.removedDaemon++
			}
		}
	}
	return p
}

// passed notes that URL n left stage at (Unix ns), having entered it at
// from (0: unknown, as for a URL whose earlier event was missed). Callers
// hold s.mu.
func (s *stats) passed(stage, n int, from, at int64) {
	if from != 0 {
		s.stageDelay[stage].add(time.Duration(at - from))
	}
	if s.start != 0 {
		s.stageDone[stage].add(time.Duration(at - s.start))
	}
}
