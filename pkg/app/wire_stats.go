package app

import (
	"context"
	"path/filepath"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/keyfile"
	"github.com/takedownd/takedownd/pkg/stats"
)

// StatsSnapshotFileName is the statistics' snapshot in the data dir.
const StatsSnapshotFileName = "stats-snapshot"

// RetentionSecretFileName is the URL-hash key's file in the data
// directory when retention.secret_file is not set.
const RetentionSecretFileName = "retention-secret"

// addStats keeps the replica's statistics (GET /v1/stats, /v1/hosters)
// from a watch of the cases bucket, and anonymises closed cases when
// they are due (wire_retention.go).
func (a *App) addStats(ctx context.Context, retry broker.Retrier) error {
	hasher, err := a.urlHasher()
	if err != nil {
		return err
	}
	a.stats = stats.New(a.store, stats.Options{
		HotlineCountry: a.cfg.Route.HotlineCountry, Hasher: hasher, Now: a.now,
		SnapshotPath: filepath.Join(a.cfg.DataDir, StatsSnapshotFileName), SnapshotEvery: a.cfg.Stats.SnapshotEvery,
		Log: a.log.With("component", "stats"),
	})
	a.addRunner("statistics", a.stats)
	a.api.ServeStats(a.stats)
	return a.addRetention(ctx, hasher)
}

// urlHasher loads (or at first start creates) the retention secret that
// URLs are hashed with, by the statistics and by retention alike.
func (a *App) urlHasher() (*stats.URLHasher, error) {
	path := a.cfg.Retention.SecretFile
	if path == "" {
		path = filepath.Join(a.cfg.DataDir, RetentionSecretFileName)
	}
	key, created, err := keyfile.Load(path, "retention secret")
	if err != nil {
		return nil, err
	}
	if created {
		a.log.Info("created retention secret", "file", path)
	}
	return stats.NewURLHasher(key), nil
}
