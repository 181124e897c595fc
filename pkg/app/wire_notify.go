package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/broker"
)

// addNotify wires the notify stage into the daemon.
func (a *App) addNotify(ctx context.Context, retry broker.Retrier) error {
	return nil
}
