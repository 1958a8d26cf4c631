// Package runapi serves the automation runs API (account secret key, like
// POST /v1/actions): GET /v1/automations/{automationId}/runs and GET
// /v1/contact/{contactId}/runs, newest first, each run with its steps.
package runapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// Ports are what the runs handlers need; shared/wiring provides them.
type Ports interface {
	AutomationStore() automations.Store
	RunStore() automations.RunStore
	ContactStore() contacts.Store
}

// AutomationRunList builds the handler of function automation-run-list.
func AutomationRunList(p Ports) http.Handler { return build((*API).automationRuns)(p) }

// ContactRunList builds the handler of function contact-run-list.
func ContactRunList(p Ports) http.Handler { return build((*API).contactRuns)(p) }

// API holds the handlers' dependencies.
type API struct {
	Automations automations.Store
	Runs        automations.RunStore
	Contacts    *contacts.Service
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := &API{Automations: p.AutomationStore(), Runs: p.RunStore(), Contacts: &contacts.Service{Store: p.ContactStore()}}
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
	}
}

// Page is a runs listing's answer.
type Page struct {
	Data  []automations.Run `json:"data"`
	Links Links             `json:"links"`
}

// Links holds the next page's URL, null on the last page.
type Links struct {
	Next *string `json:"next"`
}

// MaxPage is the largest page; DefaultPage a page without ?limit=.
const (
	MaxPage     = 100
	DefaultPage = 20
)

func limitOf(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPage {
		return 0, apperr.BadRequest("limit: must be a whole number from 1 to %d.", MaxPage)
	}
	return n, nil
}

func (a *API) automationRuns(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	id := httpapi.PathParam(r, "automationId")
	if _, err := a.Automations.GetAutomation(r.Context(), p.TenantID, id); err != nil {
		return err
	}
	page, err := a.Runs.AutomationRuns(r.Context(), p.TenantID, id, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	return write(w, r, limit, page)
}

func (a *API) contactRuns(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	id := httpapi.PathParam(r, "contactId")
	c, err := a.Contacts.Get(r.Context(), contacts.Scope{TenantID: p.TenantID}, id)
	if err != nil {
		return err
	}
	page, err := a.Runs.ContactRuns(r.Context(), p.TenantID, c.ChannelID, c.ID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	return write(w, r, limit, page)
}

func write(w http.ResponseWriter, r *http.Request, limit int, page automations.RunPage) error {
	out := Page{Data: page.Runs}
	if out.Data == nil {
		out.Data = []automations.Run{}
	}
	if page.Next != "" {
		u := httpapi.PublicURL(r)
		u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {page.Next}}.Encode()
		s := u.String()
		out.Links.Next = &s
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
