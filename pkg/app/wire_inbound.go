package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/broker"
)

// addInbound wires the receiving of replies and bounces into the daemon.
func (a *App) addInbound(ctx context.Context, retry broker.Retrier) error {
	return nil
}
