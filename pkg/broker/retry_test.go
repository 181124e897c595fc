package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTemporary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", context.DeadlineExceeded, true},
		{"wrapped timeout", fmt.Errorf("ensure stream X: %w", nats.ErrTimeout), true},
		{"no responders", nats.ErrNoResponders, true},
		{"no leader", &jetstream.APIError{Code: 503, ErrorCode: 10008}, true},
		{"no peers for placement on a forming cluster", &jetstream.APIError{Code: 400, ErrorCode: 10005}, true},
		{"stream name in use with another config", &jetstream.APIError{Code: 400, ErrorCode: 10058}, false},
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: 10003}, false},
		{"plain error", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Temporary(tc.err); got != tc.want {
				t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
