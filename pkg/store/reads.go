package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Read-your-writes on a cluster.
//
// nats.go creates every KV bucket with direct get allowed, and a handle
// whose stream config allows it answers Get by $JS.API.DIRECT.GET, which
// any replica of the stream may serve — on R3 a follower that has not yet
// applied the write this process just made. A decision taken on such a
// read ("the notice is still sending, nothing to do") is wrong for good.
// $JS.API.STREAM.MSG.GET, which a handle uses when the config it last
// fetched has direct get off, is answered by the stream leader only, and
// the leader has applied every write it acknowledged.
//
// So every bucket read for a decision has direct get turned off on its
// stream when the stream has more than one replica, at every start (which
// also fixes buckets made by older versions), and is bound by a handle
// that fetched that config. A bucket of one replica (the embedded server,
// or R1 on a cluster) has one copy, which has applied every write it
// acknowledged: it keeps direct get, which answers a read with the raw
// record where the API answers with JSON around base64 — about a third of
// the CPU per read (BenchmarkBucketGet). A cache (RDAP answers) keeps
// direct get on any number of replicas: a stale answer costs at most a
// lookup.
//
// The choice is made at start: a bucket scaled from one replica to three
// while the daemons run keeps direct get until they restart.

// EnsureCacheKV creates or updates a bucket whose reads decide nothing (a
// cache): direct get stays on, so any replica of the stream may answer a
// read, and may answer it stale.
func (s *Store) EnsureCacheKV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return s.ensureKV(ctx, cfg, false)
}

// leaderBindAttempts bounds how often binding retries while other replicas
// starting at the same time turn direct get back on (nats.go's
// CreateOrUpdateKeyValue does, every time).
const leaderBindAttempts = 10

// errDirectGetOn is a bucket whose direct get kept being flipped by
// another process.
var errDirectGetOn = errors.New("direct get kept being flipped")

// leaderReads returns a handle whose reads see every acknowledged write:
// on a bucket of several replicas it turns direct get off and reads from
// the stream leader, on a bucket of one replica it reads by direct get
// from the one copy. The handle chooses how to read from the stream
// config it fetched last, so it is only returned once that config says
// what we want: another replica's start may flip direct get between our
// update and our bind, and a later flip no longer changes what the
// handle does.
func (s *Store) leaderReads(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	name := "KV_" + bucket
	for range leaderBindAttempts {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("bind kv %s: %w", bucket, err)
		}
		sc := st.CachedInfo().Config
		direct := singleCopy(sc)
		if sc.AllowDirect != direct {
			sc.AllowDirect = direct
			if _, err := s.js.UpdateStream(ctx, sc); err != nil {
				return nil, fmt.Errorf("set direct get %v on %s: %w", direct, name, err)
			}
		}
		kv, err := s.js.KeyValue(ctx, bucket)
		if err != nil {
			return nil, fmt.Errorf("bind kv %s: %w", bucket, err)
		}
		// Status refreshes the config the handle reads by.
		status, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("bind kv %s: %w", bucket, err)
		}
		if bs, ok := status.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo().Config.AllowDirect == direct {
			return kv, nil
		}
	}
	return nil, fmt.Errorf("bind kv %s: %w", bucket, errDirectGetOn)
}

// singleCopy says a stream is kept by one server only, so any read of it
// — a direct get included — comes from the copy that applied every write.
func singleCopy(sc jetstream.StreamConfig) bool {
	return sc.Replicas <= 1 && sc.Mirror == nil && len(sc.Sources) == 0
}
