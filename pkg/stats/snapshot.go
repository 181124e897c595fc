package stats

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The snapshot: the summaries as of one revision of the cases bucket,
// written to the data dir every Options.SnapshotEvery and at the stop, so
// that a start reads a file of about 90 bytes per case and then only the
// changes since (a watch resumed from the next revision) instead of
// decoding every case record again — at a million cases, a second instead
// of a minute. The file is the replica's own; it holds what the summaries
// hold (hoster ids, abuse addresses, audience keys, keyed hashes), so it is
// written readable by the owner only, like the rest of the data dir.
//
// A snapshot is used only when everything it was computed with is the
// same: the format (snapshotMagic, bumped whenever what a summary counts
// changes), the hotline country and the URL hasher's secret (folded into
// a fingerprint), and the bucket itself (its stream's creation time, and
// a revision it has reached). Otherwise the start loads the bucket whole.
// A case deleted while the daemon was down is seen by its delete marker;
// nothing in takedownd deletes cases, and one whose marker was purged
// meanwhile would stay counted until the next full load.

const snapshotMagic = "TDSTATS\x01"

// errStaleSnapshot is a snapshot that does not fit the bucket or the
// options.
var errStaleSnapshot = errors.New("the snapshot does not fit")

// snapshot is a table at a revision, with what it was computed from.
type snapshot struct {
	rev     uint64
	created time.Time // the cases bucket's stream creation time
	print   [32]byte  // fingerprint of the options
	t       *table
}

// fingerprint folds what the summaries depend on beyond the cases.
func (a *Aggregate) fingerprint() [32]byte {
	h := sha256.New()
	h.Write([]byte(snapshotMagic + a.opts.HotlineCountry + "\x00"))
	if a.opts.Hasher != nil {
		h.Write(a.opts.Hasher.mac("stats snapshot"))
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// copyTable is a copy of t to write out while the watch keeps changing
// t: the entries are copied, the string tables' names (append-only) are
// shared, the rest cloned. Its string tables only name (they add no new
// string). Called under the read lock.
func (t *table) copyTable() *table {
	c := *t
	c.entries = slices.Clone(t.entries)
	c.plain, c.asNames = maps.Clone(t.plain), maps.Clone(t.asNames)
	c.about = make([]*hosterAbout, len(t.about))
	for i, h := range t.about {
		if h != nil {
			c.about[i] = &hosterAbout{asns: slices.Clone(h.asns), networks: slices.Clone(h.networks), contacts: slices.Clone(h.contacts)}
		}
	}
	for _, in := range []**interner{&c.countries, &c.hosters, &c.audiences, &c.addrs, &c.networks} {
		*in = &interner{names: slices.Clip((*in).names), limit: (*in).limit}
	}
	return &c
}

// writeSnapshot writes s to path, through a temporary file renamed over
// it, so a stop in the middle leaves the previous snapshot.
func writeSnapshot(path string, s snapshot) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write statistics snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write statistics snapshot: %w", err)
	}
	crc := crc32.NewIEEE()
	w := &encoder{w: bufio.NewWriterSize(io.MultiWriter(tmp, crc), 1<<20)}
	w.bytes([]byte(snapshotMagic))
	w.bytes(s.print[:])
	w.uint(uint64(s.created.UnixNano()))
	w.uint(s.rev)
	s.t.encode(w)
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		_, w.err = tmp.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	}
	if w.err == nil {
		w.err = tmp.Sync()
	}
	if err := errors.Join(w.err, tmp.Close()); err != nil {
		return fmt.Errorf("write statistics snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write statistics snapshot: %w", err)
	}
	return nil
}

// readSnapshot reads the snapshot at path; errStaleSnapshot when it was
// made with other options (print).
func readSnapshot(path string, print [32]byte) (snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return snapshot{}, err
	}
	if len(b) < len(snapshotMagic)+4 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return snapshot{}, errors.New("statistics snapshot: damaged (checksum)")
	}
	r := &decoder{b: b[:len(b)-4]}
	if string(r.next(len(snapshotMagic))) != snapshotMagic {
		return snapshot{}, fmt.Errorf("statistics snapshot: %w (another format)", errStaleSnapshot)
	}
	var s snapshot
	copy(s.print[:], r.next(32))
	if s.print != print {
		return snapshot{}, fmt.Errorf("statistics snapshot: %w (other options or secret)", errStaleSnapshot)
	}
	s.created = time.Unix(0, int64(r.uint()))
	s.rev = r.uint()
	s.t = decodeTable(r)
	if r.err != nil {
		return snapshot{}, fmt.Errorf("statistics snapshot: %w", r.err)
	}
	return s, nil
}

func (t *table) encode(w *encoder) {
	for _, in := range []*interner{t.countries, t.hosters, t.audiences, t.addrs, t.networks} {
		w.uint(uint64(len(in.names)))
		for _, n := range in.names[1:] {
			w.str(n)
		}
	}
	w.uint(uint64(len(t.asNames)))
	for _, asn := range slices.Sorted(maps.Keys(t.asNames)) {
		w.uint(uint64(asn))
		w.str(t.asNames[asn])
	}
	w.uint(uint64(len(t.plain)))
	for _, id := range slices.Sorted(maps.Keys(t.plain)) {
		w.uint(uint64(id))
		w.str(t.plain[id])
	}
	w.uint(uint64(len(t.about)))
	for _, h := range t.about {
		if h == nil {
			h = &hosterAbout{}
		}
		w.ids(h.asns)
		w.ids(h.networks)
		w.ids(h.contacts)
	}
	w.uint(uint64(len(t.entries)))
	for i := range t.entries {
		e := &t.entries[i]
		w.bytes(e.key[:])
		w.bytes([]byte{e.state, e.route, e.flags})
		for _, v := range []uint64{uint64(e.country), uint64(e.hoster), uint64(e.audience), uint64(e.reminders),
			uint64(e.escalations), uint64(e.failed), uint64(e.reopened), uint64(e.confirmed), uint64(e.firstNotice),
			uint64(e.removed), uint64(e.closed), e.urlHash} {
			w.uint(v)
		}
		var failing []uint32
		if e.more != nil {
			failing = e.more.failing
		}
		w.ids(failing)
	}
}

func decodeTable(r *decoder) *table {
	t := newTable()
	for _, in := range []*interner{t.countries, t.hosters, t.audiences, t.addrs, t.networks} {
		n := r.count()
		for range max(n, 1) - 1 {
			in.id(r.str())
		}
	}
	for _, set := range t.audiences.names[1:] {
		t.audSets = append(t.audSets, splitSet(set))
	}
	for range r.count() {
		asn := uint32(r.uint())
		t.asNames[asn] = r.str()
	}
	for range r.count() {
		id := uint32(r.uint())
		t.plain[id] = r.str()
	}
	t.about = make([]*hosterAbout, r.count())
	for i := range t.about {
		t.about[i] = &hosterAbout{asns: r.ids(), networks: r.ids(), contacts: r.ids()}
	}
	t.entries = make([]entry, r.count())
	for i := range t.entries {
		e := &t.entries[i]
		copy(e.key[:], r.next(len(e.key)))
		f := r.next(3)
		if len(f) == 3 {
			e.state, e.route, e.flags = f[0], f[1], f[2]
		}
		e.country, e.hoster, e.audience = uint16(r.uint()), uint32(r.uint()), uint32(r.uint())
		e.reminders, e.escalations, e.failed, e.reopened = uint16(r.uint()), uint16(r.uint()), uint16(r.uint()), uint16(r.uint())
		e.confirmed, e.firstNotice, e.removed, e.closed = int64(r.uint()), int64(r.uint()), int64(r.uint()), int64(r.uint())
		e.urlHash = r.uint()
		if failing := r.ids(); len(failing) > 0 {
			e.more = &extra{failing: failing}
		}
		if i > 0 && compareKeys(t.entries[i-1].key, e.key) >= 0 {
			r.fail("entries out of order")
		}
	}
	if len(r.b) > 0 {
		r.fail("trailing bytes")
	}
	return t
}

// encoder writes varints and strings, keeping the first error.
type encoder struct {
	w   *bufio.Writer
	err error
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) uint(v uint64) { e.bytes(e.buf[:binary.PutUvarint(e.buf[:], v)]) }

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *encoder) ids(ids []uint32) {
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		e.uint(uint64(id))
	}
}

// decoder reads what encoder wrote, keeping the first error (and reading
// zeros after it, so a damaged file cannot make it loop or allocate more
// than the file holds).
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = errors.New(why)
	}
	d.b = nil
}

func (d *decoder) next(n int) []byte {
	if n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count is a length that cannot exceed what is left of the file.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("a count beyond the file")
		return 0
	}
	return int(n)
}

func (d *decoder) str() string { return string(d.next(d.count())) }

func (d *decoder) ids() []uint32 {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(d.uint())
	}
	return out
}
