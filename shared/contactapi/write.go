package contactapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
)

// Idempotent wraps a write route's handler with Idempotency-Key handling.
func Idempotent(p interface {
	IdempotencyStore() idempotency.Store
	Clock() func() time.Time
}, route string, h http.Handler) http.Handler {
	return idempotency.Middleware(p.IdempotencyStore(), route, p.Clock(), h)
}

// fieldsBody is seed 001's write body.
type fieldsBody struct {
	CustomFields []contacts.Input `json:"custom_fields"`
}

func decodeFields(r *http.Request) ([]contacts.Input, error) {
	var in fieldsBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return nil, err
	}
	if len(in.CustomFields) == 0 {
		return nil, apperr.BadRequest("custom_fields must be an array of 1 to %d {\"name\",\"value\"} objects.", contacts.MaxFieldsPerWrite)
	}
	return in.CustomFields, nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	in, err := decodeFields(r)
	if err != nil {
		return err
	}
	c, err := a.Svc.Create(r.Context(), Scope(r), in, false)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, ContactRef{ID: c.ID})
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	id, err := ContactID(r)
	if err != nil {
		return err
	}
	in, err := decodeFields(r)
	if err != nil {
		return err
	}
	c, err := a.Svc.Update(r.Context(), Scope(r), id, in, nil)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, ContactRef{ID: c.ID})
	return nil
}

// search is GET /v1/contact/by_custom_field?name=&value=&page=, paginated
// as the seed shows (data, links, meta).
func (a *API) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return apperr.BadRequest("page must be a whole number from 1, not %q.", p)
		}
		page = n
	}
	if q.Get("value") == "" {
		return apperr.BadRequest("value is required.")
	}
	sc := Scope(r)
	fields, err := a.Svc.ListFields(r.Context(), sc.TenantID)
	if err != nil {
		return err
	}
	res, err := a.Svc.Search(r.Context(), sc, fields, q.Get("name"), q.Get("value"), page)
	if err != nil {
		return err
	}
	data := make([]ContactView, len(res.Contacts))
	for i, c := range res.Contacts {
		data[i] = Present(c, fields)
	}
	httpapi.WriteJSON(w, http.StatusOK, paginate(httpapi.PublicURL(r), q.Get("name"), q.Get("value"), page, res.Total, data))
	return nil
}

// paginate builds the seed's pagination envelope. Links keep the search
// parameters so that following them gives the next page of the same search.
func paginate[T any](base url.URL, name, value string, page, total int, data []T) Page[T] {
	per := contacts.PerPage
	last := (total + per - 1) / per
	if last < 1 {
		last = 1
	}
	link := func(p int) *string {
		if p < 1 || p > last {
			return nil
		}
		u := base
		u.RawQuery = url.Values{"name": {name}, "value": {value}}.Encode() + "&page=" + strconv.Itoa(p)
		s := u.String()
		return &s
	}
	var from, to *int
	if len(data) > 0 {
		f, t := (page-1)*per+1, (page-1)*per+len(data)
		from, to = &f, &t
	}
	return Page[T]{
		Data:  data,
		Links: PageLinks{First: link(1), Last: link(last), Prev: link(page - 1), Next: link(page + 1)},
		Meta: PageMeta{
			CurrentPage: page,
			From:        from,
			LastPage:    last,
			Path:        base.String(),
			PerPage:     per,
			To:          to,
			Total:       total,
		},
	}
}

// ContactRef is the data of a contact write: the contact's ID.
type ContactRef struct {
	ID string `json:"id"`
}

// SearchPage is GET /v1/contact/by_custom_field's answer.
type SearchPage = Page[ContactView]

// Page is the seed's pagination envelope: a page of data, links to other
// pages of the same search (null where there is none) and counts.
type Page[T any] struct {
	Data  []T       `json:"data"`
	Links PageLinks `json:"links"`
	Meta  PageMeta  `json:"meta"`
}

// PageLinks are the URLs of other pages; null where there is none.
type PageLinks struct {
	First *string `json:"first"`
	Last  *string `json:"last"`
	Next  *string `json:"next"`
	Prev  *string `json:"prev"`
}

// PageMeta counts a page: from and to are null on an empty page.
type PageMeta struct {
	CurrentPage int    `json:"current_page"`
	From        *int   `json:"from"`
	LastPage    int    `json:"last_page"`
	Path        string `json:"path"`
	PerPage     int    `json:"per_page"`
	To          *int   `json:"to"`
	Total       int    `json:"total"`
}
