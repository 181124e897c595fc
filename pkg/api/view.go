package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// view is the store as one request's scope sees it. Handlers read only
// through it: a case out of scope is not found (its existence is not
// told), lists hold only the cases in scope, and what is shown of a case,
// its timeline and its notices is redacted by the scope (package scope).
type view struct {
	s  *Server
	sc scope.Scope
}

// view returns the request's view; the scope comes from the token.
func (s *Server) view(r *http.Request) view {
	return view{s: s, sc: scope.FromContext(r.Context())}
}

// rawCase reads the case as stored, refusing one out of scope: for
// deciding, never for showing.
func (v view) rawCase(ctx context.Context, id string) (takedown.Case, error) {
	c, _, err := v.s.store.GetCase(ctx, id)
	if err != nil {
		return c, err
	}
	if !v.sc.Sees(c) {
		return takedown.Case{}, fmt.Errorf("case %s: %w", id, store.ErrNotFound)
	}
	return c, nil
}

// caseView reads a case and its timeline as the scope sees them.
func (v view) caseView(ctx context.Context, id string) (CaseView, error) {
	c, err := v.rawCase(ctx, id)
	if err != nil {
		return CaseView{}, err
	}
	tl, err := v.s.store.Timeline(ctx, id)
	if err != nil {
		return CaseView{}, err
	}
	return v.show(c, tl), nil
}

// show is a case and its timeline (both as stored) as the scope sees them.
func (v view) show(c takedown.Case, tl []takedown.Event) CaseView {
	shown, _ := v.sc.Case(c)
	return CaseView{Case: shown, Timeline: v.sc.Timeline(c, tl)}
}

// caseOfURL is the id of the open case of the URL with this key.
func (v view) caseOfURL(ctx context.Context, key string) (string, error) {
	return v.s.store.CaseOfURL(ctx, key)
}

// list reads a page of the cases in scope that match f.
func (v view) list(ctx context.Context, f store.ListFilter) ([]takedown.Case, string, error) {
	f.Audiences = v.sc.Audiences()
	cases, next, err := v.s.store.List(ctx, f)
	if err != nil {
		return nil, "", err
	}
	out := make([]takedown.Case, 0, len(cases))
	for _, c := range cases {
		if shown, ok := v.sc.Case(c); ok {
			out = append(out, shown)
		}
	}
	return out, next, nil
}

// maxNoticeCases bounds the cases read to decide what an outside scope
// sees of one notice (notify.max_urls is far below it).
const maxNoticeCases = 1000

// notice reads a notice as the scope sees it.
func (v view) notice(ctx context.Context, ref string) (takedown.Notice, error) {
	if v.s.notices == nil {
		return takedown.Notice{}, fmt.Errorf("notice %s: %w", ref, store.ErrNotFound)
	}
	n, err := v.s.notices.Notice(ctx, ref)
	if err != nil {
		return n, err
	}
	if v.sc.All() {
		return n, nil
	}
	var cases []takedown.Case
	for _, id := range n.Cases {
		if len(cases) == maxNoticeCases {
			break
		}
		c, _, err := v.s.store.GetCase(ctx, id)
		if err == nil {
			cases = append(cases, c)
		}
	}
	shown, ok := v.sc.Notice(n, cases)
	if !ok {
		return takedown.Notice{}, fmt.Errorf("notice %s: %w", ref, store.ErrNotFound)
	}
	return shown, nil
}

// deadLetters reads a page of the dead-letter stream, for the scopes that
// see it.
func (v view) deadLetters(ctx context.Context, after uint64, limit int) ([]store.DeadLetter, error) {
	if !v.sc.SeesDeadLetters() {
		return nil, Errorf(http.StatusForbidden, "token %s may not read dead letters", v.sc.Token)
	}
	return v.s.store.DeadLetters(ctx, after, limit)
}

func (v view) deadLetter(ctx context.Context, seq uint64) (store.DeadLetter, error) {
	if !v.sc.SeesDeadLetters() {
		return store.DeadLetter{}, Errorf(http.StatusForbidden, "token %s may not read dead letters", v.sc.Token)
	}
	return v.s.store.DeadLetter(ctx, seq)
}

// tokens lists the scopes of the API's tokens, for the scopes that see them.
func (v view) tokens() ([]scope.Scope, error) {
	if !v.sc.SeesTokens() {
		return nil, Errorf(http.StatusForbidden, "token %s may not list tokens", v.sc.Token)
	}
	out := make([]scope.Scope, len(v.s.tokens))
	for i, t := range v.s.tokens {
		out[i] = t.scope
	}
	return out, nil
}

// contacts lists the remembered contacts, for the scopes that see them.
func (v view) contacts(ctx context.Context) ([]kvbook.Record, error) {
	if !v.sc.SeesContactBook() {
		return nil, Errorf(http.StatusForbidden, "token %s may not read the contact book", v.sc.Token)
	}
	return v.s.book.Records(ctx)
}

// forgetContact deletes a remembered contact, for the scopes that may.
func (v view) forgetContact(ctx context.Context, key string) error {
	if !v.sc.EditsContactBook() {
		return Errorf(http.StatusForbidden, "token %s may not change the contact book", v.sc.Token)
	}
	return v.s.book.Forget(ctx, key)
}
