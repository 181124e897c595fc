package geoip

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	geoip2 "github.com/oschwald/geoip2-golang/v2"
)

// source is one database file and the reader currently serving it.
type source struct {
	kind  string
	path  string
	check func(*geoip2.Reader) error // rejects a database of the wrong type

	cur atomic.Pointer[loaded]

	// Touched only by refresh, which DB.mu serialises.
	seen    os.FileInfo // the file last tried, loaded or rejected
	missing bool
}

// loaded is an open database. The file is read into memory rather than
// memory-mapped (geoip2.Open) so a swapped-out reader needs no Close: a
// lookup still running on it keeps its bytes alive, where unmapping them
// would crash it.
type loaded struct {
	reader *geoip2.Reader
	desc   string
}

func newSource(kind, path string, check func(*geoip2.Reader) error) *source {
	return &source{kind: kind, path: path, check: check}
}

func (s *source) current() *loaded { return s.cur.Load() }

// refresh loads the file if it differs from the one last tried and returns
// the new database, or nil when nothing changed. A file replaced by rename
// is a different file even with the same size and time.
func (s *source) refresh() (*loaded, error) {
	if s.path == "" {
		return nil, nil
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.missing {
			return nil, nil
		}
		s.missing, s.seen = true, nil
		return nil, fmt.Errorf("stat %s database: %w", s.kind, err)
	}
	s.missing = false
	if s.seen != nil && os.SameFile(s.seen, fi) &&
		fi.ModTime().Equal(s.seen.ModTime()) && fi.Size() == s.seen.Size() {
		return nil, nil
	}
	s.seen = fi
	l, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(l)
	return l, nil
}

func (s *source) load() (*loaded, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("read %s database: %w", s.kind, err)
	}
	r, err := geoip2.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", s.kind, s.path, err)
	}
	if err := s.check(r); err != nil {
		return nil, fmt.Errorf("check %s database %s: %w", s.kind, s.path, err)
	}
	md := r.Metadata()
	built := time.Unix(int64(md.BuildEpoch), 0).UTC().Format(time.DateOnly)
	return &loaded{reader: r, desc: fmt.Sprintf("%s built %s", md.DatabaseType, built)}, nil
}
