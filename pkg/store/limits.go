package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Limit bounds one stream or bucket.
type Limit struct {
	// MaxBytes is the size limit (> 0).
	MaxBytes int64
	// MaxAge removes older messages; 0 keeps them. Streams only: a
	// bucket's age is its TTL, which the stage that owns it sets.
	MaxAge time.Duration
	// DiscardOld drops the oldest messages to make room. Otherwise a
	// write that does not fit is refused (JetStream's DiscardNew), which
	// is what state needs: a write that fails loudly, never a record that
	// silently goes.
	DiscardOld bool
	// Expendable says that what does not fit may be lost (dead letters:
	// the oldest go; a cache: a new answer is not kept), so a stream at
	// its limit is still ready. A stream that must drop its oldest but
	// needs them (message schedules cannot use DiscardNew) is not: at its
	// limit, readiness fails.
	Expendable bool
	// Key is the configuration key of the size limit, named in warnings
	// and in readiness.
	Key string
}

// Limits are the bounds of the streams and buckets, by stream name (a
// bucket's stream is KV_<bucket>). With Limits set, the store refuses to
// create a stream or bucket that has none, so nothing grows unbounded by
// oversight; nil leaves every stream unbounded (tests, tools).
type Limits map[string]Limit

// errNoLimit is a stream or bucket created without a configured limit: a
// new one needs its key in config.StorageSizes and its line in the table
// of pkg/app/wire_storage.go.
var errNoLimit = errors.New("no storage limit configured (a new stream or bucket needs a storage.max_bytes key and a line in app.storageLimits)")

// limitStream sets the stream's bounds from the store's limits.
func (s *Store) limitStream(sc *jetstream.StreamConfig) error {
	if s.opts.Limits == nil {
		return nil
	}
	l, ok := s.opts.Limits[sc.Name]
	if !ok || l.MaxBytes <= 0 {
		return fmt.Errorf("ensure stream %s: %w", sc.Name, errNoLimit)
	}
	sc.MaxBytes, sc.MaxAge = l.MaxBytes, l.MaxAge
	if l.MaxAge > 0 && sc.Duplicates > l.MaxAge {
		// The server refuses a duplicate window longer than the age: a
		// message cannot be remembered after it is gone.
		sc.Duplicates = l.MaxAge
	}
	sc.Discard = jetstream.DiscardNew
	if l.DiscardOld {
		sc.Discard = jetstream.DiscardOld
	}
	s.usage.watch(sc.Name, l)
	return nil
}

// limitKV sets the bucket's size bound. nats.go makes every bucket
// DiscardNew, which is what a bucket of state needs.
func (s *Store) limitKV(cfg *jetstream.KeyValueConfig) error {
	if s.opts.Limits == nil {
		return nil
	}
	name := "KV_" + cfg.Bucket
	l, ok := s.opts.Limits[name]
	if !ok || l.MaxBytes <= 0 {
		return fmt.Errorf("ensure kv %s: %w", cfg.Bucket, errNoLimit)
	}
	if l.DiscardOld || l.MaxAge > 0 {
		return fmt.Errorf("ensure kv %s: a bucket neither drops its oldest entries nor ages by a stream limit (its TTL does)", cfg.Bucket)
	}
	cfg.MaxBytes = l.MaxBytes
	s.usage.watch(name, l)
	return nil
}

// storageHint explains a refused stream creation that the limits cause.
func storageHint(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == 10047 { // insufficient storage resources
		return fmt.Errorf("%w (the NATS server or account holds less JetStream storage than the storage limits reserve: "+
			"raise its max_file_store, or lower storage.max_bytes)", err)
	}
	return err
}

// usage is what the storage check last read of one stream or bucket.
type usage struct {
	limit        Limit
	bytes, msgs  uint64
	read, warned bool
}

// storageUsage is the state of the storage check: every limited stream
// and bucket and what was last read of it.
type storageUsage struct {
	mu     sync.Mutex
	byName map[string]*usage
}

func (u *storageUsage) watch(name string, l Limit) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byName == nil {
		u.byName = map[string]*usage{}
	}
	if old, ok := u.byName[name]; ok {
		old.limit = l
		return
	}
	u.byName[name] = &usage{limit: l}
}

// snapshot is a copy of every reading, sorted by name.
func (u *storageUsage) snapshot() []storageReading {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]storageReading, 0, len(u.byName))
	for name, x := range u.byName {
		out = append(out, storageReading{Name: name, Limit: x.limit, Bytes: x.bytes, Msgs: x.msgs, Read: x.read})
	}
	slices.SortFunc(out, func(a, b storageReading) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// storageReading is one stream's or bucket's usage against its limit.
type storageReading struct {
	Name        string
	Limit       Limit
	Bytes, Msgs uint64
	Read        bool
}

// ratio is the share of the size limit in use.
func (r storageReading) ratio() float64 { return float64(r.Bytes) / float64(r.Limit.MaxBytes) }

// full reports a stream of state with too little room left for the next
// writes: under 1% of its limit, or under 1 MiB (a quarter of a small
// limit), about the largest record takedownd writes.
func (r storageReading) full() bool {
	if !r.Read || r.Limit.Expendable {
		return false
	}
	limit := r.Limit.MaxBytes
	room := limit - int64(min(r.Bytes, uint64(limit)))
	return room < max(limit/100, min(1<<20, limit/4))
}

// rearmBelow is how far under the warning threshold usage must fall before
// the warning may be logged again, so a stream hovering at the threshold
// warns once, not at every check.
const rearmBelow = 0.05

// CheckStorage reads the usage of every limited stream and bucket, for the
// metrics and readiness, and logs a warning when one passes warnAt (a
// share of its size limit), once per crossing.
func (s *Store) CheckStorage(ctx context.Context) error {
	warnAt := float64(s.opts.WarnPercent) / 100
	if warnAt <= 0 {
		warnAt = 0.8
	}
	var errs []error
	for _, r := range s.usage.snapshot() {
		info, err := s.streamInfo(ctx, r.Name)
		s.usage.mu.Lock()
		x := s.usage.byName[r.Name]
		if err != nil {
			s.usage.mu.Unlock()
			errs = append(errs, fmt.Errorf("read usage of %s: %w", r.Name, err))
			continue
		}
		x.bytes, x.msgs, x.read = info.State.Bytes, info.State.Msgs, true
		now := storageReading{Name: r.Name, Limit: x.limit, Bytes: x.bytes, Msgs: x.msgs, Read: true}
		crossed := !x.warned && now.ratio() >= warnAt
		switch {
		case crossed:
			x.warned = true
		case x.warned && now.ratio() < warnAt-rearmBelow:
			x.warned = false
		}
		s.usage.mu.Unlock()
		if crossed {
			s.warnStorage(now)
		}
	}
	return errors.Join(errs...)
}

func (s *Store) warnStorage(r storageReading) {
	what := "writes that do not fit will be refused: raise " + r.Limit.Key
	switch {
	case r.Limit.Expendable && r.Limit.DiscardOld:
		what = "the oldest will be dropped to make room: look at them (takedownctl dlq list), or raise " + r.Limit.Key
	case r.Limit.Expendable:
		what = "what does not fit will not be kept: raise " + r.Limit.Key
	case r.Limit.DiscardOld:
		what = "the oldest will be dropped to make room and repaired later: raise " + r.Limit.Key
	}
	s.log.Warn("storage limit nearly reached: "+what, "stream", r.Name,
		"bytes", r.Bytes, "limit_bytes", r.Limit.MaxBytes, "percent", int(100*r.ratio()), "messages", r.Msgs)
}

func (s *Store) streamInfo(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Retry.CallTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return st.Info(ctx)
}

// RunStorageMonitor checks the storage every interval until ctx ends. A
// check that fails is logged and tried again at the next interval: the
// metrics then keep the last reading.
func (s *Store) RunStorageMonitor(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.CheckStorage(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("check storage", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// storageRoom is the readiness check of the storage: a stream or bucket
// of state that is full refuses writes, so the replica cannot do its work.
func (s *Store) storageRoom(context.Context) error {
	var full []string
	for _, r := range s.usage.snapshot() {
		if r.full() {
			what := "writes are refused"
			if r.Limit.DiscardOld {
				what = "its oldest are dropped"
			}
			full = append(full, fmt.Sprintf("%s is full (%d of %d bytes): %s; raise %s", r.Name, r.Bytes, r.Limit.MaxBytes, what, r.Limit.Key))
		}
	}
	if len(full) > 0 {
		return errors.New(strings.Join(full, "; "))
	}
	return nil
}

// StorageBytes is what the limited streams and buckets held at the last
// storage check, in all.
func (s *Store) StorageBytes() int64 {
	var n int64
	for _, r := range s.usage.snapshot() {
		n += int64(r.Bytes)
	}
	return n
}
