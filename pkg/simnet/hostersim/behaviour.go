package hostersim

import (
	"bytes"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Behaviour is how the simulated hoster answers requests for one path.
// Build one with the functions below; they compose (HeadNotAllowed,
// Delay and WithHeader wrap another Behaviour).
type Behaviour struct {
	serve func(s *Server, w http.ResponseWriter, r *http.Request)
}

// Content serves body with support for HEAD and Range requests, so its
// SHA-256 is whatever the test computed from the same bytes.
func Content(body []byte) Behaviour {
	return Behaviour{serve: func(_ *Server, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}}
}

// Status answers code with a short text body: 404, 410, 451, 429, 5xx, or
// anything else a test needs.
func Status(code int) Behaviour {
	return Behaviour{serve: func(_ *Server, w http.ResponseWriter, _ *http.Request) {
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "60")
		}
		http.Error(w, strconv.Itoa(code)+" "+http.StatusText(code), code)
	}}
}

// Redirect answers code (301, 302, 303, 307, 308) with location, which may
// be a path on this server, an absolute URL on another host, or another
// site's root.
func Redirect(code int, location string) Behaviour {
	return Behaviour{serve: func(_ *Server, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(code)
	}}
}

// Hang never answers: the handler waits until the client gives up or the
// server closes, which is how a probe timeout is provoked.
func Hang() Behaviour {
	return Behaviour{serve: func(s *Server, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	}}
}

// CloseConn drops the connection without answering.
func CloseConn() Behaviour {
	return Behaviour{serve: func(_ *Server, w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		conn.Close()
	}}
}

// Choose answers each request as the Behaviour pick returns for it, so a
// program can decide per request, from the Host header, the path and its
// own clock, what the hoster serves: one server then stands in for many
// hosters whose material is removed at different times.
func Choose(pick func(r *http.Request) Behaviour) Behaviour {
	return Behaviour{serve: func(s *Server, w http.ResponseWriter, r *http.Request) {
		pick(r).serve(s, w, r)
	}}
}

// Flap cycles through bs, one per request it answers (HEAD and GET each
// count), starting with bs[0], so a hoster can be online, gone, online again.
func Flap(bs ...Behaviour) Behaviour {
	var next atomic.Int64
	return Behaviour{serve: func(s *Server, w http.ResponseWriter, r *http.Request) {
		bs[int((next.Add(1)-1)%int64(len(bs)))].serve(s, w, r)
	}}
}

// HeadNotAllowed answers HEAD with 405 and everything else as inner, like
// hosters whose framework only routes GET.
func HeadNotAllowed(inner Behaviour) Behaviour {
	return HeadStatus(http.StatusMethodNotAllowed, inner)
}

// HeadStatus answers HEAD with code and everything else as inner.
func HeadStatus(code int, inner Behaviour) Behaviour {
	return Behaviour{serve: func(s *Server, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Allow", "GET")
			w.WriteHeader(code)
			return
		}
		inner.serve(s, w, r)
	}}
}

// Delay waits d (or until the request ends) before answering as inner, so
// requests overlap and the server can count how many are in flight.
func Delay(d time.Duration, inner Behaviour) Behaviour {
	return Behaviour{serve: func(s *Server, w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		}
		inner.serve(s, w, r)
	}}
}

// WithHeader sets a response header before answering as inner, e.g. a
// Content-Encoding the client did not ask for.
func WithHeader(key, value string, inner Behaviour) Behaviour {
	return Behaviour{serve: func(s *Server, w http.ResponseWriter, r *http.Request) {
		w.Header().Set(key, value)
		inner.serve(s, w, r)
	}}
}

// Chunked serves body without a Content-Length, in small flushed pieces, so
// a client learns its size only by reading it all.
func Chunked(body []byte) Behaviour {
	return Behaviour{serve: func(_ *Server, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		rc := http.NewResponseController(w)
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 512)
			if _, err := w.Write(rest[:n]); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			rest = rest[n:]
		}
	}}
}
