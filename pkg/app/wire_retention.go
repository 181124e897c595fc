package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/retention"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// addRetention anonymises closed cases once retention.anonymise_after has
// passed, finding them in the statistics' summaries. It runs on every
// replica: two replicas on the same case converge (each step is a
// compare-and-set or idempotent), and a sweep finds only what is due.
func (a *App) addRetention(ctx context.Context, hasher *stats.URLHasher) error {
	cfg := a.cfg.Retention
	if cfg.Disabled {
		return nil
	}
	notices, err := store.BindBucket[takedown.Notice](ctx, a.store, notify.NoticesBucket, "notice")
	if err != nil {
		return err
	}
	a.addRunner("retention", retention.New(a.store, a.stats, retention.Options{
		AnonymiseAfter: cfg.AnonymiseAfter, Every: cfg.Every, Batch: cfg.Batch,
		Hasher: hasher, Notices: notices, Now: a.now, Log: a.log.With("component", "retention"),
	}))
	return nil
}
