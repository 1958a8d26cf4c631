// Package contactapi serves the Contacts API routes that take no phone
// input (seed 001: get, delete, tags) and the contact fields module. The
// routes that parse field values live in contactinputapi, which links the
// phone number library; this package keeps its functions small.
package contactapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Functions maps each function of this package to its handler.
var Functions = lambdaapp.Builders{
	"contact-get":          build((*API).get),
	"contact-delete":       build((*API).delete),
	"contact-tags-add":     build((*API).addTags),
	"contact-tags-remove":  build((*API).removeTags),
	"contact-field-list":   build((*API).listFields),
	"contact-field-create": build((*API).createField),
	"contact-field-get":    build((*API).getField),
	"contact-field-update": build((*API).updateField),
	"contact-field-delete": build((*API).deleteField),
	"messenger-verify":     messengerVerify,
}

// API holds the handlers' service.
type API struct {
	Svc *contacts.Service
}

// NewService builds the contacts service on the table; phone may be nil.
func NewService(d *lambdaapp.Deps, phone contacts.PhoneNormalizer) *contacts.Service {
	return &contacts.Service{Store: d.Contacts(), Phone: phone, Now: d.Now}
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) lambdaapp.Builder {
	return func(d *lambdaapp.Deps) http.Handler {
		a := &API{Svc: NewService(d, nil)}
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
	return "", httpapi.Errorf(http.StatusBadRequest, "contact_id must be Base64-encoded on Viber channels; %q is not Base64.", id)
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

// MapErr turns domain errors into client answers.
func MapErr(err error) error {
	var ve *contacts.ValidationError
	switch {
	case errors.As(err, &ve):
		return httpapi.Errorf(http.StatusBadRequest, "%s: %s.", ve.Field, ve.Problem)
	case errors.Is(err, contacts.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "%s not found.", httpapi.Wording(err, contacts.ErrNotFound))
	case errors.Is(err, contacts.ErrExists):
		return httpapi.Errorf(http.StatusConflict, "%s.", httpapi.Wording(err, contacts.ErrExists))
	case errors.Is(err, contacts.ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "The contact was changed by another request at the same time; retry.")
	}
	return err
}

// getWithFields reads a contact and the field definitions at once.
func (a *API) getWithFields(ctx context.Context, sc contacts.Scope, id string) (contacts.Contact, []contacts.Field, error) {
	type res struct {
		fs  []contacts.Field
		err error
	}
	ch := make(chan res, 1)
	go func() {
		fs, err := a.Svc.ListFields(ctx, sc.TenantID)
		ch <- res{fs, err}
	}()
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
		return MapErr(err)
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
		return MapErr(err)
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
		return MapErr(err)
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
		return MapErr(err)
	}
	httpapi.WriteData(w, http.StatusCreated, f)
	return nil
}

func (a *API) getField(w http.ResponseWriter, r *http.Request) error {
	f, err := a.Svc.GetField(r.Context(), Scope(r).TenantID, httpapi.PathParam(r, "fieldId"))
	if err != nil {
		return MapErr(err)
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
		return MapErr(err)
	}
	httpapi.WriteData(w, http.StatusOK, f)
	return nil
}

func (a *API) deleteField(w http.ResponseWriter, r *http.Request) error {
	if err := a.Svc.DeleteField(r.Context(), Scope(r).TenantID, httpapi.PathParam(r, "fieldId")); err != nil {
		return MapErr(err)
	}
	httpapi.WriteSuccess(w, "Contact field deleted successfully.")
	return nil
}
