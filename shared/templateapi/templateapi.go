// Package templateapi serves a WhatsApp channel's message template registry
// (/v1/templates, per channel token): create, list (by status), read, edit
// and delete. Templates are validated as Meta defines them, submitted to the
// provider for review and start PENDING (shared/templates).
package templateapi

import (
	"net/http"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// TemplateCreate builds the handler of function template-create.
func TemplateCreate(p Ports) http.Handler { return build((*API).create)(p) }

// TemplateList builds the handler of function template-list.
func TemplateList(p Ports) http.Handler { return build((*API).list)(p) }

// TemplateGet builds the handler of function template-get.
func TemplateGet(p Ports) http.Handler { return build((*API).get)(p) }

// TemplateUpdate builds the handler of function template-update.
func TemplateUpdate(p Ports) http.Handler { return build((*API).update)(p) }

// TemplateDelete builds the handler of function template-delete.
func TemplateDelete(p Ports) http.Handler { return build((*API).delete)(p) }

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	TemplateStore() templates.Store
	TemplateSubmitter() templates.Submitter
	Clock() func() time.Time
}

// API holds the handlers' dependencies.
type API struct {
	svc *templates.Service
}

// New is the API on its ports (tests).
func New(p Ports) *API {
	return &API{svc: &templates.Service{
		Store:     p.TemplateStore(),
		Submitter: p.TemplateSubmitter(),
		NewID:     func() string { return tenancy.NewID("tpl") },
		Now:       p.Clock(),
	}}
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := New(p)
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := whatsappOnly(r); err != nil {
				return err
			}
			return h(a, w, r)
		})
	}
}

// whatsappOnly refuses the tokens of channels that have no templates.
func whatsappOnly(r *http.Request) error {
	if k := httpapi.CallerOf(r).ChannelKind; k != tenancy.WhatsApp {
		return apperr.Forbidden("Message templates are WhatsApp's: this token's channel is a %s channel.", k)
	}
	return nil
}

func caller(r *http.Request) (tenantID, channelID string) {
	p := httpapi.CallerOf(r)
	return p.TenantID, p.ChannelID
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	var in templates.Input
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	t, ch := caller(r)
	tpl, err := a.svc.Create(r.Context(), t, ch, in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, View(tpl))
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	var status templates.Status
	q := r.URL.Query()
	if vs, ok := q["status"]; ok {
		if len(vs) != 1 {
			return apperr.Invalid("status", "give it once")
		}
		s, err := templates.ParseStatus("status", vs[0])
		if err != nil {
			return err
		}
		status = s
	}
	t, ch := caller(r)
	ts, err := a.svc.List(r.Context(), t, ch, status)
	if err != nil {
		return err
	}
	out := make([]TemplateView, len(ts))
	for i, x := range ts {
		out[i] = View(x)
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	tpl, err := a.svc.Get(r.Context(), t, ch, httpapi.PathParam(r, "templateId"))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, View(tpl))
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	var in templates.Input
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	t, ch := caller(r)
	tpl, err := a.svc.Update(r.Context(), t, ch, httpapi.PathParam(r, "templateId"), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, View(tpl))
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	if err := a.svc.Delete(r.Context(), t, ch, httpapi.PathParam(r, "templateId")); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Template deleted successfully.")
	return nil
}

// TemplateView is a template as the API shows it.
type TemplateView struct {
	ID         string          `json:"id"`
	ChannelID  string          `json:"channel_id"`
	Name       string          `json:"name"`
	Namespace  string          `json:"namespace"`
	Language   string          `json:"language"`
	Category   string          `json:"category"`
	Components []ComponentView `json:"components"`
	// Status is PENDING, APPROVED, REJECTED, PAUSED or DISABLED.
	Status     templates.Status `json:"status"`
	Reason     string           `json:"reason,omitempty"`
	ProviderID string           `json:"provider_id,omitempty"`
	BodyParams int              `json:"body_params"`
	CreatedAt  int64            `json:"created_at"`
	UpdatedAt  int64            `json:"updated_at"`
}

// ComponentView is a template component as the API shows it (Meta's
// shape, as it was given).
type ComponentView struct {
	Type    string       `json:"type"`
	Format  string       `json:"format,omitempty"`
	Text    string       `json:"text,omitempty"`
	Buttons []ButtonView `json:"buttons,omitempty"`
	Example *ExampleView `json:"example,omitempty"`
}

// ExampleView holds a component's sample values.
type ExampleView struct {
	HeaderText   []string   `json:"header_text,omitempty"`
	HeaderHandle []string   `json:"header_handle,omitempty"`
	BodyText     [][]string `json:"body_text,omitempty"`
}

// ButtonView is one button.
type ButtonView struct {
	Type        string   `json:"type"`
	Text        string   `json:"text,omitempty"`
	URL         string   `json:"url,omitempty"`
	PhoneNumber string   `json:"phone_number,omitempty"`
	Example     []string `json:"example,omitempty"`
}

// View is t as the API shows it.
func View(t templates.Template) TemplateView {
	v := TemplateView{ID: t.ID, ChannelID: t.ChannelID, Name: t.Name, Namespace: t.Namespace, Language: t.Language,
		Category: t.Category, Status: t.Status, Reason: t.Reason, ProviderID: t.ProviderID, BodyParams: t.BodyParams,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Components: make([]ComponentView, len(t.Components))}
	for i, c := range t.Components {
		cv := ComponentView{Type: c.Type, Format: c.Format, Text: c.Text}
		if c.Example != nil {
			e := ExampleView(*c.Example)
			cv.Example = &e
		}
		for _, b := range c.Buttons {
			cv.Buttons = append(cv.Buttons, ButtonView(b))
		}
		v.Components[i] = cv
	}
	return v
}
