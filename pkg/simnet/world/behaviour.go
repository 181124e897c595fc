package world

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// The behaviours a simulated hoster can have.
const (
	// KindRemove takes the material down a while after the first notice
	// (or forward) that names its URL reaches anyone.
	KindRemove = "remove"
	// KindNever leaves it online whatever it is told.
	KindNever = "never"
	// KindFlap takes it down and puts it back in turns after the notice
	// (FlapPeriod each), then removes it for good after the removal delay.
	KindFlap = "flap"
	// KindMove moves the site abroad (its DNS name points at a network
	// in Germany, where a partner hotline takes forwards) MoveAfter after
	// the notice, and removes the material after the removal delay counted
	// from the first notice or forward after the move.
	KindMove = "move"
	// KindCDN sits behind a CDN (a CNAME into Cloudflare's network, which
	// takedownd's CDN list knows) and removes after the CDN's notice.
	KindCDN = "cdn"
	// KindUnresolvable has no DNS record at all.
	KindUnresolvable = "unresolvable"
)

// Kinds lists the behaviours, for flags.
var Kinds = []string{KindRemove, KindNever, KindFlap, KindMove, KindCDN, KindUnresolvable}

// Behaviour is what a site does with its material once noticed.
type Behaviour struct {
	Kind string
	// RemoveAfter is the delay from the notice to the removal; zero with
	// a plan means the plan's range, drawn per URL.
	RemoveAfter time.Duration
	// MoveAfter is when a moving site moves, after its first notice.
	MoveAfter time.Duration
	// FlapPeriod is how long each gone or online spell of a flapping
	// site lasts.
	FlapPeriod time.Duration
}

// urlState is what the world knows of one URL: when the first notice or
// forward naming it arrived, and for a moved site the first after the
// move. Times are Unix nanoseconds, zero for never.
type urlState struct {
	noticed   atomic.Int64
	renoticed atomic.Int64
}

// urlTable holds the state of numbered URLs (http://<host>/c/<n>.jpg) in
// a dense array, so millions of them cost 16 bytes each, and of any other
// path on a world host in a small map, so a person can publish any URL of
// a demo site.
type urlTable struct {
	dense []urlState
	mu    sync.Mutex
	other map[string]*urlState
}

// maxOther bounds the URLs outside the numbered form the world tracks;
// beyond it such URLs answer 404 (gone) from the start.
const maxOther = 100_000

func newURLTable(n int) *urlTable {
	return &urlTable{dense: make([]urlState, n), other: map[string]*urlState{}}
}

// lookup returns the state of the URL on host with path, creating it for
// a path outside the numbered form; nil when the table is full.
func (t *urlTable) lookup(host, path string) (*urlState, int) { return t.find(host, path, true) }

// peek is lookup without creating anything.
func (t *urlTable) peek(host, path string) (*urlState, int) { return t.find(host, path, false) }

func (t *urlTable) find(host, path string, create bool) (*urlState, int) {
	n, numbered := URLNumber(path)
	if numbered && n < len(t.dense) {
		return &t.dense[n], n
	}
	if !numbered {
		n = -1
	}
	key := host + path
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.other[key]
	if !ok && !create {
		return nil, n
	}
	if !ok {
		if len(t.other) >= maxOther {
			return nil, -1
		}
		st = &urlState{}
		t.other[key] = st
	}
	return st, n
}

// URLNumber returns n for a path "/c/<n>.jpg".
func URLNumber(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "/c/")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".jpg")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == rest
}

// URL is the numbered URL n on host.
func URL(host string, n int) string { return "http://" + host + "/c/" + strconv.Itoa(n) + ".jpg" }

// Content is what a site serves at u while the material is online: a
// stand-in text naming the URL (never anything else), whose SHA-256 the
// load tool puts into its reports so the prober compares hashes.
func Content(u string) []byte { return []byte("takedownsim stand-in for " + u + "\n") }

// ContentSHA256 is the hex SHA-256 of Content(u).
func ContentSHA256(u string) string {
	sum := sha256.Sum256(Content(u))
	return hex.EncodeToString(sum[:])
}

// online says whether the material of st is served at now, and the time
// it goes for good (zero while unknown or never).
func (b Behaviour) online(st *urlState, removeAfter time.Duration, movedAt int64, now time.Time) (bool, time.Time) {
	noticed := st.noticed.Load()
	if noticed == 0 {
		return true, time.Time{}
	}
	t := now.UnixNano()
	switch b.Kind {
	case KindNever:
		return true, time.Time{}
	case KindMove:
		re := st.renoticed.Load()
		if movedAt == 0 || re == 0 {
			return true, time.Time{}
		}
		gone := re + int64(removeAfter)
		return t < gone, time.Unix(0, gone)
	case KindFlap:
		gone := noticed + int64(removeAfter)
		if t >= gone {
			return false, time.Unix(0, gone)
		}
		if p := int64(b.FlapPeriod); p > 0 && (t-noticed)/p%2 == 1 {
			return false, time.Unix(0, gone)
		}
		return true, time.Unix(0, gone)
	default: // remove, cdn
		gone := noticed + int64(removeAfter)
		return t < gone, time.Unix(0, gone)
	}
}

// serve is the one hoster of the world: the Host header picks the site,
// the path the URL, and the site's behaviour whether it is still there.
func (w *World) serve(r *http.Request) hostersim.Behaviour {
	host := strings.ToLower(r.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	s := w.sites[host]
	if s == nil {
		return hostersim.Status(http.StatusNotFound)
	}
	st, n := w.urls.lookup(host, r.URL.Path)
	if st == nil {
		return hostersim.Status(http.StatusNotFound)
	}
	on, _ := s.behaviour.online(st, w.removeAfter(s, n), s.movedAt.Load(), w.now())
	b := hostersim.Content(Content("http://" + host + r.URL.Path))
	if !on {
		b = hostersim.Status(http.StatusNotFound)
	}
	if s.movedAt.Load() != 0 {
		// One server answers for both addresses of a moved site; closing
		// each connection after its answer keeps a client from holding on
		// to one it opened to the old address, so it learns of the move
		// the next time it resolves the name, as it would on the internet.
		b = hostersim.WithHeader("Connection", "close", b)
	}
	return b
}

// removeAfter is the removal delay of URL n (-1 for one outside the
// numbered form) on site s.
func (w *World) removeAfter(s *site, n int) time.Duration {
	switch {
	case s.behaviour.RemoveAfter > 0:
		return s.behaviour.RemoveAfter
	case n < 0:
		return w.plan.RemoveAfter[0]
	}
	return w.plan.removeAfter(n)
}
