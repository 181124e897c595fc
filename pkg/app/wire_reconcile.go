package app

import (
	"context"
	"os"
	"path/filepath"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/reconcile"
)

// addReconcile wires the reconciler: it asks the notify stage whether a
// routed case's notice is on its way and the schedule stream whether a
// case's check is pending, and it runs as a part like the stages (one
// replica at a time passes; see package reconcile).
func (a *App) addReconcile(ctx context.Context, _ broker.Retrier) error {
	cfg := a.cfg.Reconcile
	r, err := reconcile.New(ctx, reconcile.Options{
		Store: a.store, Checks: a.checks, Notices: a.notices,
		Interval: cfg.Interval, ConfirmAfter: cfg.ConfirmAfter, Workers: cfg.Workers,
		Holder: a.replicaName(), Metrics: a.metrics, Log: a.log.With("component", "reconcile"), Now: a.now,
	})
	if err != nil {
		return err
	}
	a.addRunner("reconcile", r)
	return nil
}

// replicaName names this replica the same way across its restarts: its
// host and its data directory (two replicas on one host have two).
func (a *App) replicaName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	dir, err := filepath.Abs(a.cfg.DataDir)
	if err != nil {
		dir = a.cfg.DataDir
	}
	return host + ":" + dir
}
