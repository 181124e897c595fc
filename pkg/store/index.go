package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// CaseOfReport returns the case the report id's record names: the case it
// joined, or, while the message that brought it is in flight, the case
// that message opens (see ClaimReport). The index makes "the same
// report_id twice is one report" hold beyond the stream's duplicate window.
func (s *Store) CaseOfReport(ctx context.Context, reportID string) (string, error) {
	e, err := s.reports.Get(ctx, keyOf(reportID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get report %s: %w", trimKey(reportID), err)
	}
	return string(e.Value()), nil
}

// ClaimReport puts a report id on record for caseID, the case its message
// opens if its URL has none, unless the id is on record already. It
// returns the case the record names after the call: caseID when the
// report is new or this is a redelivery of the message that claimed it.
// One create-if-absent both asks "was this report seen?" and records it.
func (s *Store) ClaimReport(ctx context.Context, reportID, caseID string) (string, error) {
	_, holds, err := s.createKey(ctx, s.reports, keyOf(reportID), []byte(caseID))
	if err == nil {
		return caseID, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("claim report %s: %w", trimKey(reportID), err)
	}
	if holds != nil {
		return string(holds.Value()), nil
	}
	holder, err := s.CaseOfReport(ctx, reportID)
	if errors.Is(err, ErrNotFound) {
		// Removed between our create and get: try once more.
		return s.ClaimReport(ctx, reportID, caseID)
	}
	return holder, err
}

// RecordReport points a report id's record at the case it joined.
func (s *Store) RecordReport(ctx context.Context, reportID, caseID string) error {
	if _, err := s.reports.Put(ctx, keyOf(reportID), []byte(caseID)); err != nil {
		return fmt.Errorf("record report %s: %w", trimKey(reportID), err)
	}
	return nil
}

// ClaimURL makes caseID the open case of the URL with this key, unless
// another case holds it. It returns the case that holds the URL after the
// call and the index revision (for ReleaseURL / TakeOverURL).
func (s *Store) ClaimURL(ctx context.Context, urlKey, caseID string) (holder string, rev uint64, err error) {
	c, err := s.ClaimURLFor(ctx, urlKey, caseID)
	return c.Holder, c.Rev, err
}

// URLClaim is the URL index's answer to a claim.
type URLClaim struct {
	// Holder is the case that holds the URL after the claim; Rev is the
	// index revision (for TakeOverURL).
	Holder string
	Rev    uint64
	// Fresh is true when this claim made the entry: the URL had no case
	// (nor a claim of one) before, so none can exist under Holder yet but
	// the one its claimer is about to open.
	Fresh bool
}

// ClaimURLFor is ClaimURL that also says whether the claim was fresh.
func (s *Store) ClaimURLFor(ctx context.Context, urlKey, caseID string) (URLClaim, error) {
	rev, e, err := s.createKey(ctx, s.urls, urlKey, []byte(caseID))
	if err == nil {
		return URLClaim{Holder: caseID, Rev: rev, Fresh: true}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return URLClaim{}, fmt.Errorf("claim url %s: %w", urlKey, err)
	}
	if e != nil {
		return URLClaim{Holder: string(e.Value()), Rev: e.Revision()}, nil
	}
	e, err = s.urls.Get(ctx, urlKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released between our create and get: try once more.
		return s.ClaimURLFor(ctx, urlKey, caseID)
	}
	if err != nil {
		return URLClaim{}, fmt.Errorf("get url %s: %w", urlKey, err)
	}
	return URLClaim{Holder: string(e.Value()), Rev: e.Revision()}, nil
}

// TakeOverURL points the URL at caseID if the index is still at rev (the
// holder's case was closed). It reports false if someone else moved first.
func (s *Store) TakeOverURL(ctx context.Context, urlKey, caseID string, rev uint64) (bool, error) {
	_, err := s.urls.Update(ctx, urlKey, []byte(caseID), rev)
	if err == nil {
		return true, nil
	}
	if IsConflict(err) {
		return false, nil
	}
	return false, fmt.Errorf("take over url %s: %w", urlKey, err)
}

// CaseOfURL returns the case that holds the URL with this key.
func (s *Store) CaseOfURL(ctx context.Context, urlKey string) (string, error) {
	e, err := s.urls.Get(ctx, urlKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get url %s: %w", urlKey, err)
	}
	return string(e.Value()), nil
}
