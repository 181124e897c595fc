// Package webhooksim is a simulated partner hotline for tests and load runs:
// an HTTP receiver on loopback that checks the signature of every forward,
// records what it accepted, and can be told to fail the next requests.
// Nothing in production imports it.
package webhooksim

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/notify/webhook"
)

// Delivery is one forward the receiver accepted.
type Delivery struct {
	Key       string // Idempotency-Key
	Timestamp string
	Body      []byte
	Duplicate bool // the key was accepted before
}

// failure is a canned answer for the next requests.
type failure struct {
	status     int
	retryAfter string
	left       int
}

// Receiver is a running simulated partner endpoint.
type Receiver struct {
	srv        *httptest.Server
	secret     []byte
	now        func() time.Time
	maxSkew    time.Duration
	onDelivery func(Delivery)

	mu         sync.Mutex
	deliveries []Delivery
	seen       map[string]bool
	fails      []failure
	requests   int
	rejected   int
}

// New starts a receiver that verifies with secret, allowing maxSkew between
// the request's timestamp and now.
func New(secret []byte, now func() time.Time, maxSkew time.Duration) *Receiver {
	r, err := Listen("127.0.0.1:0", secret, now, maxSkew, nil)
	if err != nil {
		panic(err) // as httptest.NewServer does when loopback has no port
	}
	return r
}

// Listen starts a receiver on addr (port 0 for a free one). onDelivery,
// when set, is called with each accepted forward before it is answered.
func Listen(addr string, secret []byte, now func() time.Time, maxSkew time.Duration, onDelivery func(Delivery)) (*Receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen webhook receiver: %w", err)
	}
	r := &Receiver{secret: secret, now: now, maxSkew: maxSkew, seen: map[string]bool{}, onDelivery: onDelivery}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	_ = r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
	return r, nil
}

// URL is the endpoint to post to.
func (r *Receiver) URL() string { return r.srv.URL }

// Client is an HTTP client for the receiver.
func (r *Receiver) Client() *http.Client { return r.srv.Client() }

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// FailNext answers the next n requests with status, and with a Retry-After
// header when retryAfter is not empty.
func (r *Receiver) FailNext(n, status int, retryAfter string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, failure{status: status, retryAfter: retryAfter, left: n})
}

// Deliveries returns what was accepted, duplicates included.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Requests returns how many requests arrived, and how many of them failed
// the signature check.
func (r *Receiver) Requests() (total, badSignature int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.rejected
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if len(r.fails) > 0 {
		f := &r.fails[0]
		if f.left--; f.left <= 0 {
			r.fails = r.fails[1:]
		}
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	ts := req.Header.Get(webhook.HeaderTimestamp)
	if err := webhook.Verify(r.secret, ts, body, req.Header.Get(webhook.HeaderSignature), r.now(), r.maxSkew); err != nil {
		r.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	key := req.Header.Get(webhook.HeaderIdempotency)
	if key == "" {
		http.Error(w, "Idempotency-Key missing", http.StatusBadRequest)
		return
	}
	d := Delivery{Key: key, Timestamp: ts, Body: body, Duplicate: r.seen[key]}
	r.deliveries = append(r.deliveries, d)
	r.seen[key] = true
	if r.onDelivery != nil {
		r.onDelivery(d)
	}
	w.WriteHeader(http.StatusAccepted)
}
