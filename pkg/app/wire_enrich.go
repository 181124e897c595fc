package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/broker"
)

// addEnrich wires the enrich stage into the daemon.
func (a *App) addEnrich(ctx context.Context, retry broker.Retrier) error {
	return nil
}
