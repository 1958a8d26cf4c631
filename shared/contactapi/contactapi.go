// Package contactapi serves the Contacts API (seed 001): contacts (create,
// get, update, delete, tags, search by field) and the contact fields
// module. Phone parsing is a port: the functions that parse field values
// (create, update, search) are started with wiring.WithPhone, so only they
// link the phone number library.
package contactapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
	"github.com/startmsg/chatbackend/shared/jsonappend"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// ContactGet builds the handler of function contact-get.
func ContactGet(p Ports) http.Handler { return build((*API).get)(p) }

// ContactDelete builds the handler of function contact-delete.
func ContactDelete(p Ports) http.Handler { return build((*API).delete)(p) }

// ContactTagsAdd builds the handler of function contact-tags-add.
func ContactTagsAdd(p Ports) http.Handler { return build((*API).addTags)(p) }

// ContactTagsRemove builds the handler of function contact-tags-remove.
func ContactTagsRemove(p Ports) http.Handler { return build((*API).removeTags)(p) }

// ContactFieldList builds the handler of function contact-field-list.
func ContactFieldList(p Ports) http.Handler { return build((*API).listFields)(p) }

// ContactFieldCreate builds the handler of function contact-field-create.
func ContactFieldCreate(p Ports) http.Handler { return build((*API).createField)(p) }

// ContactFieldGet builds the handler of function contact-field-get.
func ContactFieldGet(p Ports) http.Handler { return build((*API).getField)(p) }

// ContactFieldUpdate builds the handler of function contact-field-update.
func ContactFieldUpdate(p Ports) http.Handler { return build((*API).updateField)(p) }

// ContactFieldDelete builds the handler of function contact-field-delete.
func ContactFieldDelete(p Ports) http.Handler { return build((*API).deleteField)(p) }

// ContactCreate builds the handler of function contact-create.
func ContactCreate(p Ports) http.Handler {
	return Idempotent(p, "contact-create", build((*API).create)(p))
}

// ContactUpdate builds the handler of function contact-update.
func ContactUpdate(p Ports) http.Handler { return build((*API).update)(p) }

// ContactSearch builds the handler of function contact-search.
func ContactSearch(p Ports) http.Handler { return build((*API).search)(p) }

// API holds the handlers' service.
type API struct {
	Svc *contacts.Service
}

// Ports are what the contact handlers need; shared/wiring provides them.
type Ports interface {
	ContactStore() contacts.Store
	IdempotencyStore() idempotency.Store
	// Phone is nil in the functions that parse no phone numbers.
	Phone() contacts.PhoneNormalizer
	Clock() func() time.Time
}

// NewService builds the contacts service from the ports.
func NewService(p Ports) *contacts.Service {
	return &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()}
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := &API{Svc: NewService(p)}
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
	}
}

// Scope is what the caller may see: a channel token its channel's contacts,
// the account secret the whole tenant's.
func Scope(r *http.Request) contacts.Scope {
	p := httpapi.CallerOf(r)
	return contacts.Scope{TenantID: p.TenantID, ChannelID: p.ChannelID, DefaultCountry: p.DefaultCountry}
}

// ContactID is the {contactId} path parameter; on Viber channels it comes
// Base64-encoded (Viber IDs hold characters that do not travel in paths).
func ContactID(r *http.Request) (string, error) {
	id := httpapi.PathParam(r, "contactId")
	if httpapi.CallerOf(r).ChannelKind != tenancy.Viber {
		return id, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(id); err == nil && len(b) > 0 {
			return string(b), nil
		}
	}
	return "", apperr.BadRequest("contact_id must be Base64-encoded on Viber channels; %q is not Base64.", id)
}

// ContactView is a contact as the Contacts API shows it: standard fields and
// custom fields (by name) together in custom_fields.
type ContactView struct {
	CreatedAt    int64             `json:"created_at"`
	CustomFields map[string]string `json:"custom_fields"`
	ID           string            `json:"id"`
	Opportunity  bool              `json:"opportunity"`
	Tags         []string          `json:"tags"`
	UpdatedAt    int64             `json:"updated_at"`
}

// AppendJSON appends v as encoding/json writes it without HTML escaping
// (httpapi.WriteData writes it so; the tests compare the two).
func (v ContactView) AppendJSON(b []byte) []byte {
	b = append(b, `{"created_at":`...)
	b = jsonappend.Int(b, v.CreatedAt)
	b = append(b, `,"custom_fields":`...)
	b = jsonappend.StringMap(b, v.CustomFields)
	b = append(b, `,"id":`...)
	b = jsonappend.String(b, v.ID)
	b = append(b, `,"opportunity":`...)
	b = jsonappend.Bool(b, v.Opportunity)
	b = append(b, `,"tags":`...)
	b = jsonappend.Strings(b, v.Tags)
	b = append(b, `,"updated_at":`...)
	b = jsonappend.Int(b, v.UpdatedAt)
	return append(b, '}')
}

// Present is a contact as the Contacts API shows it.
func Present(c contacts.Contact, fields []contacts.Field) ContactView {
	cf := map[string]string{}
	for _, f := range contacts.Standard {
		if v, ok := c.Fields[f.Name]; ok {
			cf[f.Name] = v
		}
	}
	for _, f := range fields {
		if v, ok := c.Custom[f.ID]; ok {
			cf[f.Name] = v
		}
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return ContactView{
		ID:           c.ID,
		CustomFields: cf,
		Tags:         tags,
		CreatedAt:    c.CreatedAt,
		UpdatedAt:    c.UpdatedAt,
		Opportunity:  c.Opportunity,
	}
}

// getWithFields reads a contact and the field definitions at once.
func (a *API) getWithFields(ctx context.Context, sc contacts.Scope, id string) (contacts.Contact, []contacts.Field, error) {
	type res struct {
		fs  []contacts.Field
		err error
	}
	ch := make(chan res, 1)
	httpapi.Go(func() {
		fs, err := a.Svc.ListFields(ctx, sc.TenantID)
		ch <- res{fs, err}
	})
	c, err := a.Svc.Get(ctx, sc, id)
	fr := <-ch
	if err != nil {
		return c, nil, err
	}
	return c, fr.fs, fr.err
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	id, err := ContactID(r)
	if err != nil {
		return err
	}
	c, fs, err := a.getWithFields(r.Context(), Scope(r), id)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, Present(c, fs))
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := ContactID(r)
	if err != nil {
		return err
	}
	if err := a.Svc.Delete(r.Context(), Scope(r), id); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Contact deleted successfully.")
	return nil
}

type tagsBody struct {
	Tags []string `json:"tags"`
}

func (a *API) addTags(w http.ResponseWriter, r *http.Request) error {
	return a.tags(w, r, a.Svc.AddTags, "Contact Tags have been added successfully.")
}

func (a *API) removeTags(w http.ResponseWriter, r *http.Request) error {
	return a.tags(w, r, a.Svc.RemoveTags, "Contact Tags deleted successfully.")
}

func (a *API) tags(w http.ResponseWriter, r *http.Request, op func(context.Context, contacts.Scope, string, []string) (contacts.Contact, error), msg string) error {
	id, err := ContactID(r)
	if err != nil {
		return err
	}
	var in tagsBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if _, err := op(r.Context(), Scope(r), id, in.Tags); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, msg)
	return nil
}

func (a *API) listFields(w http.ResponseWriter, r *http.Request) error {
	fs, err := a.Svc.ListFields(r.Context(), Scope(r).TenantID)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, fs)
	return nil
}

func (a *API) createField(w http.ResponseWriter, r *http.Request) error {
	var in contacts.FieldInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	f, err := a.Svc.CreateField(r.Context(), Scope(r).TenantID, in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, f)
	return nil
}

func (a *API) getField(w http.ResponseWriter, r *http.Request) error {
	f, err := a.Svc.GetField(r.Context(), Scope(r).TenantID, httpapi.PathParam(r, "fieldId"))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, f)
	return nil
}

func (a *API) updateField(w http.ResponseWriter, r *http.Request) error {
	var in contacts.FieldInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	f, err := a.Svc.UpdateField(r.Context(), Scope(r).TenantID, httpapi.PathParam(r, "fieldId"), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, f)
	return nil
}

func (a *API) deleteField(w http.ResponseWriter, r *http.Request) error {
	if err := a.Svc.DeleteField(r.Context(), Scope(r).TenantID, httpapi.PathParam(r, "fieldId")); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Contact field deleted successfully.")
	return nil
}
