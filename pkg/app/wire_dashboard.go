package app

import (
	"net/http"
	"strings"

	"github.com/takedownd/takedownd/pkg/dashboard"
)

// addDashboard builds the web dashboard served at / beside the API
// (pkg/dashboard). It calls the API in-process as the logged-in token.
func (a *App) addDashboard() error {
	d, err := dashboard.New(dashboard.Options{API: a.api, Now: a.now, Log: a.log.With("component", "dashboard")})
	if err != nil {
		return err
	}
	a.dashboard = d
	return nil
}

// handler is what the API listener serves: every route of the API's
// registry (and any other /v1 path, for the API's own 404) goes to the
// API, everything else to the dashboard.
func (a *App) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", a.api)
	for _, rt := range a.api.Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") {
			mux.Handle(rt.Pattern(), a.api)
		}
	}
	mux.Handle("/", a.dashboard)
	return mux
}
