package app

import (
	"context"
	"log/slog"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/contacthealth"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/inbound"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/reconcile"
	"github.com/takedownd/takedownd/pkg/store"
)

// storeHeadroom is added to the sum of the limits when the embedded
// server's store is sized to them: room for JetStream's own bookkeeping.
const storeHeadroom = 256 << 20

// storageLimits is the one table of what bounds each stream and bucket
// and what happens at the bound (config.Storage says why): dead letters
// drop the oldest, re-check schedules drop the oldest for the reconciler to
// re-create, everything else refuses the write that does not fit.
func storageLimits(cfg config.Config) store.Limits {
	size, age := cfg.Storage.MaxBytes, cfg.Storage.MaxAge
	const key = "storage.max_bytes."
	kv := func(bucket string) string { return "KV_" + bucket }
	b := func(n config.ByteSize) int64 { return int64(n) }
	return store.Limits{
		store.EventsStream: {MaxBytes: b(size.Events), MaxAge: age.Events, Key: key + "events"},
		// Anyone who reaches the MX can send dead letters: the oldest go.
		store.DLQStream:   {MaxBytes: b(size.DeadLetters), MaxAge: age.DeadLetters, DiscardOld: true, Expendable: true, Key: key + "dead_letters"},
		cfg.Intake.Stream: {MaxBytes: b(size.Reports), MaxAge: age.Reports, Key: key + "reports"},
		store.WorkStream:  {MaxBytes: b(size.Work), Key: key + "work"},
		// Message schedules cannot use DiscardNew: a schedule dropped at the
		// limit is re-created by the reconciler, and readiness fails.
		recheck.ScheduleStream:     {MaxBytes: b(size.Checks), DiscardOld: true, Key: key + "checks"},
		kv(store.CasesBucket):      {MaxBytes: b(size.Cases), Key: key + "cases"},
		kv(store.URLIndexBucket):   {MaxBytes: b(size.URLs), Key: key + "urls"},
		kv(store.ReportsBucket):    {MaxBytes: b(size.ReportIDs), Key: key + "report_ids"},
		kv(notify.NoticesBucket):   {MaxBytes: b(size.Notices), Key: key + "notices"},
		kv(notify.BatchesBucket):   {MaxBytes: b(size.Batches), Key: key + "batches"},
		kv(recheck.FollowUpBucket): {MaxBytes: b(size.FollowUps), Key: key + "followups"},
		kv(inbound.SeenBucket):     {MaxBytes: b(size.InboundSeen), Key: key + "inbound_seen"},
		// A cache: an answer that does not fit costs a query later.
		kv(cfg.Enrich.RDAP.CacheBucket): {MaxBytes: b(size.RDAPCache), Expendable: true, Key: key + "rdap_cache"},
		// Small buckets the replicas coordinate in (a few keys each).
		kv(cfg.Enrich.RDAP.LimitBucket): {MaxBytes: b(size.Coordination), Key: key + "coordination"},
		kv(reconcile.LeaseBucket):       {MaxBytes: b(size.Coordination), Key: key + "coordination"},
		kv(store.HealthBucket):          {MaxBytes: b(size.Coordination), Key: key + "coordination"},
		kv(contacthealth.Bucket):        {MaxBytes: b(size.ContactHealth), Key: key + "contact_health"},
		kv(kvbook.BucketName):           {MaxBytes: b(size.RememberedContacts), Key: key + "remembered_contacts"},
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
		cfg.NATS.Embedded.MaxStore = int64(cfg.Storage.MaxBytes.Total()) + storeHeadroom
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
