package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/broker"
)

// addRoute wires the route stage into the daemon.
func (a *App) addRoute(ctx context.Context, retry broker.Retrier) error {
	return nil
}
