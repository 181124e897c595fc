package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DirConfig configures the drop directory.
type DirConfig struct {
	Dir             string
	PollInterval    time.Duration
	MaxMessageBytes int64
}

// Dir ingests messages an MTA or fetchmail drops into a directory. A
// file is taken only when it is complete:
//
//   - every file in the maildir-style new/ sub-directory at once: by the
//     maildir contract a writer delivers into tmp/ and renames into new/;
//   - a *.eml file in the directory itself once its size and modification
//     time are the same on two scans in a row, since a writer may copy it
//     in place (cp, an MTA's file delivery) and still be writing;
//   - never a dot file, a file with another name (x.eml.tmp, x.part), an
//     empty file, or anything in tmp/.
//
// A recorded message moves to done/; one that matched no notice, or could
// not be read, moves to failed/ for a person (it is dead-lettered as
// well). A Dir is not safe for concurrent Scans.
type Dir struct {
	cfg DirConfig
	ing Ingestor
	log *slog.Logger
	// seen holds the top-level files of the last scan with their size and
	// modification time.
	seen map[string]fileStamp
}

// fileStamp is what a scan saw of a file: its size and modification time
// (in nanoseconds).
type fileStamp struct{ size, mtime int64 }

// NewDir creates the directory and its done/ and failed/ sub-directories.
func NewDir(cfg DirConfig, ing Ingestor, log *slog.Logger) (*Dir, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	for _, sub := range []string{"", "done", "failed"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("create inbound dir: %w", err)
		}
	}
	return &Dir{cfg: cfg, ing: ing, log: log, seen: map[string]fileStamp{}}, nil
}

// Run scans the directory every poll interval until ctx ends.
func (d *Dir) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := d.Scan(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("inbound dir scan stopped, will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan ingests every message waiting in the directory, oldest name
// first, and returns how many it handled. It stops at the first message
// that could not be recorded (NATS unreachable), leaving it in place.
func (d *Dir) Scan(ctx context.Context) (int, error) {
	files, err := d.pending()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, path := range files {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		dest, err := d.one(ctx, path)
		if err != nil {
			return n, err
		}
		if err := moveInto(path, filepath.Join(d.cfg.Dir, dest)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// one ingests a file and says where it goes: done or failed.
func (d *Dir) one(ctx context.Context, path string) (string, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open inbound file: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(f, d.cfg.MaxMessageBytes+1))
	_ = f.Close()
	if err != nil {
		return "", fmt.Errorf("read inbound file %s: %w", name, err)
	}
	if int64(len(raw)) > d.cfg.MaxMessageBytes {
		d.log.Warn("inbound file too large: moved to failed", "file", name, "max_bytes", d.cfg.MaxMessageBytes)
		return "failed", nil
	}
	res, err := d.ing.Ingest(ctx, raw)
	if err != nil {
		return "", err
	}
	if res.Kind == KindUnmatched {
		return "failed", nil
	}
	return "done", nil
}

// pending lists the complete files (see Dir), sorted.
func (d *Dir) pending() ([]string, error) {
	var out []string
	seen := map[string]fileStamp{}
	for _, sub := range []struct {
		dir   string
		inNew bool
	}{{d.cfg.Dir, false}, {filepath.Join(d.cfg.Dir, "new"), true}} {
		entries, err := os.ReadDir(sub.dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list inbound dir: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || (!sub.inNew && !strings.HasSuffix(name, ".eml")) {
				continue
			}
			path := filepath.Join(sub.dir, name)
			info, err := e.Info()
			if err != nil || info.Size() == 0 {
				continue // gone since the listing, or not written yet
			}
			if !sub.inNew {
				stamp := fileStamp{size: info.Size(), mtime: info.ModTime().UnixNano()}
				seen[path] = stamp
				if prev, ok := d.seen[path]; !ok || prev != stamp {
					continue // maybe still being written: look again next scan
				}
			}
			out = append(out, path)
		}
	}
	d.seen = seen
	slices.Sort(out)
	return out, nil
}

// moveInto renames path into dir, never over an existing file.
func moveInto(path, dir string) error {
	base := filepath.Base(path)
	dest := filepath.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			break
		}
		dest = filepath.Join(dir, base+"."+strconv.Itoa(i))
	}
	if err := os.Rename(path, dest); err != nil {
		return fmt.Errorf("move inbound file: %w", err)
	}
	return nil
}
