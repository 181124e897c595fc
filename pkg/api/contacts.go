package api

import (
	"context"
	"net/http"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
)

// ContactBook is the runtime contact book (*kvbook.Book is one).
type ContactBook interface {
	Records(ctx context.Context) ([]kvbook.Record, error)
	Forget(ctx context.Context, key string) error
}

var _ ContactBook = (*kvbook.Book)(nil)

// ServeContacts adds GET /v1/contacts and DELETE /v1/contacts/{key}: the
// contacts remembered for hosters (the add_contact action with remember).
func (s *Server) ServeContacts(b ContactBook) {
	s.book = b
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/contacts", Roles: ContactBookReaders,
		Summary: "the contacts remembered for hosters, which enrichment consults beside the contact book file"}, s.listContacts)
	s.Handle(Route{Method: http.MethodDelete, Path: "/v1/contacts/{key}", Roles: ContactBookEditors,
		Summary: "forget a remembered contact"}, s.forgetContact)
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) error {
	recs, err := s.view(r).contacts(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": recs})
	return nil
}

func (s *Server) forgetContact(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if err := s.view(r).forgetContact(r.Context(), key); err != nil {
		return err
	}
	s.log.Info("remembered contact forgotten", "key", key, "by", Caller(r))
	writeJSON(w, http.StatusOK, map[string]string{"forgotten": key})
	return nil
}
