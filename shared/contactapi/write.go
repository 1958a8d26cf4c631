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
	httpapi.WriteData(w, http.StatusOK, map[string]string{"id": c.ID})
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
	httpapi.WriteData(w, http.StatusOK, map[string]string{"id": c.ID})
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
	data := make([]map[string]any, len(res.Contacts))
	for i, c := range res.Contacts {
		data[i] = Present(c, fields)
	}
	httpapi.WriteJSON(w, http.StatusOK, paginate(httpapi.PublicURL(r), q.Get("name"), q.Get("value"), page, res.Total, data))
	return nil
}

// paginate builds the seed's pagination envelope. Links keep the search
// parameters so that following them gives the next page of the same search.
func paginate(base url.URL, name, value string, page, total int, data []map[string]any) map[string]any {
	per := contacts.PerPage
	last := (total + per - 1) / per
	if last < 1 {
		last = 1
	}
	link := func(p int) any {
		if p < 1 || p > last {
			return nil
		}
		u := base
		u.RawQuery = url.Values{"name": {name}, "value": {value}}.Encode() + "&page=" + strconv.Itoa(p)
		return u.String()
	}
	var from, to any
	if len(data) > 0 {
		from, to = (page-1)*per+1, (page-1)*per+len(data)
	}
	return map[string]any{
		"data":  data,
		"links": map[string]any{"first": link(1), "last": link(last), "prev": link(page - 1), "next": link(page + 1)},
		"meta": map[string]any{
			"current_page": page,
			"from":         from,
			"last_page":    last,
			"path":         base.String(),
			"per_page":     per,
			"to":           to,
			"total":        total,
		},
	}
}
