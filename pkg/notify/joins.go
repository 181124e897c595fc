package notify

import (
	"errors"
	"sync"
)

// joins gathers the cases that this replica's route workers add to one
// recipient's batch at the same time, so that one write adds them all
// (addToBatch). The first worker to come for a recipient writes its case
// at once; whoever comes while that write runs waits, and when it is done
// the first of the waiters writes for all of them — one write at a time
// per recipient, each taking every case that came meanwhile.
type joins struct {
	mu      sync.Mutex
	waiting map[string]*[]*joiner // by recipient; present while a write runs
}

// joiner is one case waiting to be added.
type joiner struct {
	caseID string
	done   chan struct{}
	ref    string
	err    error
	// lead, set when done closes with no ref or error, is the group this
	// joiner now writes for (itself first).
	lead []*joiner
}

var errNotPlaced = errors.New("case not placed in a batch")

// join adds caseID through write, with every case that joins the same key
// while the write before runs, and returns the notice it went to. write
// runs with the context of whichever worker leads; a case whose leader's
// write fails gets its error, and its work is tried again.
func (j *joins) join(key, caseID string, write func(ids []string) (map[string]string, error)) (string, error) {
	me := &joiner{caseID: caseID, done: make(chan struct{})}
	j.mu.Lock()
	if j.waiting == nil {
		j.waiting = map[string]*[]*joiner{}
	}
	if q, running := j.waiting[key]; running {
		*q = append(*q, me)
		j.mu.Unlock()
		// No giving up on ctx here: once queued, the case may be handed
		// the lead, and the cases behind it wait for it. Every write is
		// bounded by the store's call timeouts.
		<-me.done
		if me.lead == nil {
			return me.ref, me.err
		}
	} else {
		j.waiting[key] = new([]*joiner)
		j.mu.Unlock()
		me.lead = []*joiner{me}
	}
	j.write(key, me.lead, write)
	return me.ref, me.err
}

// write adds a group's cases, tells each where it went, and hands the lead
// to the first of those that came meanwhile.
func (j *joins) write(key string, group []*joiner, write func(ids []string) (map[string]string, error)) {
	ids := make([]string, len(group))
	for i, x := range group {
		ids[i] = x.caseID
	}
	placed, err := write(ids)
	for _, x := range group {
		x.ref, x.err, x.lead = placed[x.caseID], err, nil
		if x.err == nil && x.ref == "" {
			x.err = errNotPlaced
		}
	}
	j.mu.Lock()
	q := j.waiting[key]
	next := *q
	if len(next) == 0 {
		delete(j.waiting, key)
	} else {
		*q = nil
	}
	j.mu.Unlock()
	for _, x := range group[1:] {
		close(x.done)
	}
	if len(next) > 0 {
		next[0].lead = next
		close(next[0].done)
	}
}
