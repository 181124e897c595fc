package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/broker"
)

// addRecheck wires the recheck stage into the daemon.
func (a *App) addRecheck(ctx context.Context, retry broker.Retrier) error {
	return nil
}
