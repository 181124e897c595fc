// Package kvbook is the runtime layer of the hotline's contact book: the
// contacts people remember for a hoster through the API (the add_contact
// action with remember), kept in the KV bucket takedown_contacts so that
// every replica's enrichment consults them, and so that they need neither
// a file edit nor a restart. Each record claims one domain, network or AS
// number, as one entry of the file book (package contactbook) would.
//
// Which wins: the enrichment looks a case up in both layers
// (contactbook.Layers) and takes the most specific match of either, by the
// book's one rule (a domain before a network before an AS, the longest
// name, the longest prefix). Where the runtime layer and the file claim
// the very same domain, network or AS, the runtime record wins: it is the
// newer knowledge, added by a person who saw the file's address fail, and
// the file changes only with a deploy.
package kvbook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/store"
)

// BucketName is the KV bucket of remembered contacts.
const BucketName = "takedown_contacts"

// Record is one remembered contact: the addresses to tell for cases that
// match its domain, network or AS.
type Record struct {
	// Kind is contactbook.KindDomain, KindNetwork or KindASN; Match is
	// the domain, the CIDR prefix or the AS number.
	Kind  string `json:"kind"`
	Match string `json:"match"`
	// Emails are the addresses, preferred (the latest remembered) first.
	Emails   []string `json:"emails"`
	Name     string   `json:"name,omitempty"`
	Language string   `json:"language,omitempty"`
	Note     string   `json:"note,omitempty"`
	// By is the token that remembered it last, At when, Case the case it
	// was remembered on.
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Case string    `json:"case,omitempty"`
}

// Key is the record's key in the bucket: "network.192.0.2.0/24",
// "domain.hoster.nl", "asn.64500" (an IPv6 prefix's colons become _).
func (r Record) Key() string {
	return r.Kind + "." + strings.ReplaceAll(r.Match, ":", "_")
}

// entry is the record as an entry of a book.
func (r Record) entry() contactbook.Entry {
	e := contactbook.Entry{Name: r.Kind + " " + r.Match, Emails: r.Emails, Language: r.Language}
	if r.Name != "" {
		e.Name = r.Name + " (" + e.Name + ")"
	}
	e.Note = fmt.Sprintf("remembered by %s on %s", r.By, r.At.UTC().Format(time.DateOnly))
	if r.Case != "" {
		e.Note += " from case " + r.Case
	}
	if r.Note != "" {
		e.Note += ": " + r.Note
	}
	switch r.Kind {
	case contactbook.KindDomain:
		e.Domains = []string{r.Match}
	case contactbook.KindNetwork:
		e.Networks = []string{r.Match}
	case contactbook.KindASN:
		n, _ := strconv.ParseUint(r.Match, 10, 32)
		e.ASNs = []uint{uint(n)}
	}
	return e
}

// Check reports what is wrong with a record, by the file book's rules.
func (r Record) Check() error {
	switch r.Kind {
	case contactbook.KindDomain, contactbook.KindNetwork:
	case contactbook.KindASN:
		if n, err := strconv.ParseUint(r.Match, 10, 32); err != nil || n == 0 {
			return fmt.Errorf("AS %q is not a number in 1-4294967295", r.Match)
		}
	default:
		return fmt.Errorf("kind %q: want domain, network or asn", r.Kind)
	}
	_, err := contactbook.FromEntries([]contactbook.Entry{r.entry()}, BucketName)
	return err
}

// Book is the runtime layer: the bucket, and an in-memory book of its
// records that a watch keeps current (Run), so that a lookup costs no
// round trip.
type Book struct {
	records *store.Bucket[Record]
	log     *slog.Logger
	now     func() time.Time
	current atomic.Pointer[contactbook.Book]
}

var _ contactbook.Lookuper = (*Book)(nil)

// Open creates or updates the bucket (safe on every start, from every
// replica) and binds it.
func Open(ctx context.Context, st *store.Store, log *slog.Logger) (*Book, error) {
	b, err := store.OpenBucket[Record](ctx, st, jetstream.KeyValueConfig{
		Bucket: BucketName, Description: "takedownd contacts remembered for hosters through the API", History: 5, Storage: jetstream.FileStorage,
	}, "remembered contact")
	if err != nil {
		return nil, err
	}
	return &Book{records: b, log: log, now: st.Now}, nil
}

// Remember adds the record's addresses in front of those remembered for
// the same match before (the latest knowledge first), or stores it; its
// note, name and language replace the old ones when set. It returns the
// record as stored.
func (b *Book) Remember(ctx context.Context, r Record) (Record, error) {
	if r.At.IsZero() {
		r.At = b.now().UTC()
	}
	if err := r.Check(); err != nil {
		return Record{}, err
	}
	var out Record
	err := store.RetryConflicts(ctx, "remember contact "+r.Key(), func() error {
		e, err := b.records.Update(ctx, r.Key(), func(old *Record) error {
			merged := r
			for _, a := range old.Emails {
				if !slices.ContainsFunc(merged.Emails, func(x string) bool { return strings.EqualFold(x, a) }) {
					merged.Emails = append(merged.Emails, a)
				}
			}
			if merged.Name == "" {
				merged.Name = old.Name
			}
			if merged.Language == "" {
				merged.Language = old.Language
			}
			if merged.Note == "" {
				merged.Note = old.Note
			}
			*old = merged
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			if _, err := b.records.Create(ctx, r.Key(), r); err != nil {
				return err
			}
			out = r
			return nil
		}
		out = e.Value
		return err
	})
	if err != nil {
		return Record{}, err
	}
	b.log.Info("contact remembered", "key", r.Key(), "by", r.By, "case_id", r.Case)
	return out, nil
}

// validKey matches what a KV key may be.
var validKey = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// Forget deletes the record under key; store.ErrNotFound when there is none.
func (b *Book) Forget(ctx context.Context, key string) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("remembered contact %q: %w", key, store.ErrNotFound)
	}
	if _, _, err := b.records.Get(ctx, key); err != nil {
		return err
	}
	if err := b.records.KV().Delete(ctx, key); err != nil {
		return fmt.Errorf("forget contact %s: %w", key, err)
	}
	return nil
}

// Records lists every record, in key order.
func (b *Book) Records(ctx context.Context) ([]Record, error) {
	lister, err := b.records.KV().ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list remembered contacts: %w", err)
	}
	defer lister.Stop()
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []Record{}
	for _, k := range keys {
		r, _, err := b.records.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Lookup implements contactbook.Lookuper over the records loaded so far.
func (b *Book) Lookup(host string, addrs []netip.Addr, asns []uint) (contactbook.Match, bool) {
	cur := b.current.Load()
	if cur == nil {
		return contactbook.Match{}, false
	}
	return cur.Lookup(host, addrs, asns)
}

// Run keeps the in-memory book current until ctx ends: it loads every
// record, then rebuilds the book on each change. A record that does not
// check out (written by hand, say) is left out and logged.
func (b *Book) Run(ctx context.Context) error {
	w, err := b.records.KV().WatchAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("watch remembered contacts: %w", err)
	}
	defer func() { _ = w.Stop() }()
	recs := map[string]Record{}
	loaded := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, open := <-w.Updates():
			if !open {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the watch of " + BucketName + " ended")
			}
			if e == nil {
				loaded = true
			} else if e.Operation() == jetstream.KeyValuePut {
				var r Record
				if err := decode(e.Value(), &r); err != nil {
					b.log.Warn("remembered contact not understood, left out", "key", e.Key(), "err", err)
					delete(recs, e.Key())
				} else {
					recs[e.Key()] = r
				}
			} else {
				delete(recs, e.Key())
			}
			if loaded {
				b.rebuild(recs)
			}
		}
	}
}

func (b *Book) rebuild(recs map[string]Record) {
	var entries []contactbook.Entry
	for key, r := range recs {
		if err := r.Check(); err != nil {
			b.log.Warn("remembered contact left out", "key", key, "err", err)
			continue
		}
		entries = append(entries, r.entry())
	}
	slices.SortFunc(entries, func(x, y contactbook.Entry) int { return strings.Compare(x.Name, y.Name) })
	book, err := contactbook.FromEntries(entries, BucketName)
	if err != nil {
		b.log.Warn("remembered contacts do not build a book, the last one stands", "err", err)
		return
	}
	b.current.Store(book)
}

func decode(data []byte, r *Record) error {
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("decode remembered contact: %w", err)
	}
	return nil
}
