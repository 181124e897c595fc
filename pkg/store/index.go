package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// CaseOfReport returns the case a report id joined, if any. The index makes
// "the same report_id twice is one report" hold beyond the stream's
// duplicate window.
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

// RecordReport marks a report id as done, pointing at its case.
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
	rev, err = s.urls.Create(ctx, urlKey, []byte(caseID))
	if err == nil {
		return caseID, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", 0, fmt.Errorf("claim url %s: %w", urlKey, err)
	}
	e, err := s.urls.Get(ctx, urlKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released between our create and get: try once more.
		return s.ClaimURL(ctx, urlKey, caseID)
	}
	if err != nil {
		return "", 0, fmt.Errorf("get url %s: %w", urlKey, err)
	}
	return string(e.Value()), e.Revision(), nil
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
