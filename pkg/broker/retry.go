package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Retrier runs JetStream calls with a per-call deadline and retries,
// because a fresh cluster may not have elected a leader yet and answers
// "no responders" or times out for a while.
type Retrier struct {
	CallTimeout time.Duration
	Attempts    int
	Backoff     time.Duration
}

// Do runs fn until it succeeds, fails permanently, or attempts run out.
func (r Retrier) Do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	attempts := max(r.Attempts, 1)
	wait := r.Backoff
	var err error
	for i := range attempts {
		cctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
		err = fn(cctx)
		cancel()
		if err == nil || !Temporary(err) {
			break
		}
		if i == attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// jsErrCodeNoPeersForPlacement is nats-server's JSClusterNoPeersErrF.
const jsErrCodeNoPeersForPlacement jetstream.ErrorCode = 10005

// Temporary reports whether a JetStream error may go away by itself.
func Temporary(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503: no leader yet / cluster not ready; 408 and 500 on a busy
		// server. 10005 ("no suitable peers for placement") is what a
		// fresh cluster answers while its peers are still joining or one
		// is restarting; on a cluster too small for the replicas it stays,
		// and the attempts run out with that error.
		return apiErr.Code == 503 || apiErr.Code == 408 || apiErr.Code == 500 ||
			apiErr.ErrorCode == jsErrCodeNoPeersForPlacement
	}
	return false
}
