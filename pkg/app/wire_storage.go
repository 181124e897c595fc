package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/inbound"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/store"
)

// healthBucketBytes is the readiness bucket's bound: one small key per
// replica, so it is not worth a key of its own in the configuration.
const healthBucketBytes = 1 << 20

// storeHeadroom is added to the sum of the limits when the embedded
// server's store is sized to them: room for JetStream's own bookkeeping.
const storeHeadroom = 256 << 20

// storageLimits is the one table of what bounds each stream and bucket
// and what happens at the bound (config.Storage says why): dead letters
// drop the oldest, re-check schedules drop the oldest for the sweeper to
// re-create, everything else refuses the write that does not fit.
func storageLimits(cfg config.Config) store.Limits {
	size, age := cfg.Storage.MaxBytes, cfg.Storage.MaxAge
	kv := func(bucket string) string { return "KV_" + bucket }
	l := func(max config.ByteSize, key string) store.Limit {
		return store.Limit{MaxBytes: int64(max), Key: "storage.max_bytes." + key}
	}
	aged := func(lim store.Limit, maxAge time.Duration) store.Limit {
		lim.MaxAge = maxAge
		return lim
	}
	dropOldest := func(lim store.Limit, droppable bool) store.Limit {
		lim.DiscardOld, lim.Droppable = true, droppable
		return lim
	}
	return store.Limits{
		store.EventsStream: aged(l(size.Events, "events"), age.Events),
		// Anyone who reaches the MX can send dead letters: the oldest go.
		store.DLQStream:   dropOldest(aged(l(size.DeadLetters, "dead_letters"), age.DeadLetters), true),
		cfg.Intake.Stream: aged(l(size.Reports, "reports"), age.Reports),
		store.WorkStream:  l(size.Work, "work"),
		// Message schedules cannot use DiscardNew; a schedule dropped at
		// the limit is re-created by the sweeper, and readiness fails.
		recheck.ScheduleStream:          dropOldest(l(size.Checks, "checks"), false),
		kv(store.CasesBucket):           l(size.Cases, "cases"),
		kv(store.URLIndexBucket):        l(size.URLs, "urls"),
		kv(store.ReportsBucket):         l(size.ReportIDs, "report_ids"),
		kv(notify.NoticesBucket):        l(size.Notices, "notices"),
		kv(notify.BatchesBucket):        l(size.Batches, "batches"),
		kv(recheck.FollowUpBucket):      l(size.FollowUps, "followups"),
		kv(inbound.SeenBucket):          l(size.InboundSeen, "inbound_seen"),
		kv(cfg.Enrich.RDAP.CacheBucket): l(size.RDAPCache, "rdap_cache"),
		kv(store.HealthBucket):          {MaxBytes: healthBucketBytes, Key: "the fixed bound of " + store.HealthBucket},
	}
}

// runStorageMonitor checks the storage every storage.check_interval (see
// store.RunStorageMonitor); after the first check it says whether the
// disk can hold what the limits allow.
func (a *App) runStorageMonitor(ctx context.Context) error {
	if err := a.store.CheckStorage(ctx); err == nil {
		warnDiskSmallerThanLimits(a.log, a.cfg.DataDir, a.cfg, a.store.StorageBytes())
	}
	return a.store.RunStorageMonitor(ctx, a.cfg.Storage.CheckInterval)
}

// sizeEmbeddedStore gives the embedded server a store as large as the
// limits add up to, when the configuration leaves its size to us: left to
// itself, nats-server takes 75% of the free disk at start and refuses any
// stream whose limit does not fit in what is left, so the same
// configuration would start on one machine and not on the next.
func sizeEmbeddedStore(cfg *config.Config) {
	if len(cfg.NATS.URLs) == 0 && cfg.NATS.Embedded.MaxStore == 0 {
		cfg.NATS.Embedded.MaxStore = int64(cfg.Storage.MaxBytes.Total()) + healthBucketBytes + storeHeadroom
	}
}

// warnDiskSmallerThanLimits logs when the disk under the embedded store
// has less room than the limits still allow the streams to grow: the disk
// would then fill before any limit is reached.
func warnDiskSmallerThanLimits(log *slog.Logger, dir string, cfg config.Config, used int64) {
	free, ok := freeBytes(dir)
	if !ok || len(cfg.NATS.URLs) > 0 {
		return
	}
	if grow := int64(cfg.Storage.MaxBytes.Total()) - used; grow > free {
		log.Warn("the disk has less room than the storage limits allow: it will fill before they are reached; lower storage.max_bytes or free space",
			"data_dir", dir, "free", config.ByteSize(free).String(), "limits_total", cfg.Storage.MaxBytes.Total().String())
	}
}
