package app

import (
	"context"

	"github.com/takedownd/takedownd/pkg/actions"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/route"
)

// addActions wires what people do to cases through the API: the runtime
// contact book (remembered contacts, which enrichment consults beside the
// file book) and the actions service behind POST /v1/cases/{id}/actions.
// It runs before the stages are wired, so enrichment finds the book.
func (a *App) addActions(ctx context.Context, _ broker.Retrier) error {
	log := a.log.With("component", "actions")
	book, err := kvbook.Open(ctx, a.store, a.log.With("component", "contact book"))
	if err != nil {
		return err
	}
	a.contacts = book
	a.addRunner("remembered contacts", book)
	partners, err := route.LoadPartners(a.cfg.Route.PartnersFile)
	if err != nil {
		return err
	}
	delete(partners, a.cfg.Route.HotlineCountry)
	a.api.ServeContacts(book)
	a.api.ServeActions(actions.New(actions.Options{
		Store: a.store, Partners: partners, Contacts: book, MaxPause: a.cfg.API.MaxPause, Now: a.now, Log: log,
	}))
	return nil
}
