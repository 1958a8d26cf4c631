package connectionapi

import (
	"net/http"
	"slices"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// Zapier REST hooks: a subscription is a connection made by Zapier.

type hookBody struct {
	TargetURL string `json:"target_url"`
	Event     string `json:"event"`
}

func (a *API) hookSubscribe(w http.ResponseWriter, r *http.Request) error {
	var in hookBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if in.TargetURL == "" || in.Event == "" {
		return apperr.BadRequest("target_url and event are required.")
	}
	t, ch := caller(r)
	name, triggers := "Zapier: "+in.Event, []string{in.Event}
	c, err := a.svc.Create(r.Context(), t, ch, connections.SourceZapier, connections.Input{Name: &name, URL: &in.TargetURL, Triggers: &triggers})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, HookCreated{Data: view(c, false), ID: c.ID})
	return nil
}

func (a *API) hookUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	id := httpapi.PathParam(r, "hookId")
	c, err := a.svc.Get(r.Context(), t, ch, id)
	if apperr.Is(err, apperr.KindNotFound) {
		// The same answer as for a connection that is not a hook.
		return apperr.New(apperr.KindNotFound, "Hook %q not found.", id)
	}
	if err != nil {
		return err
	}
	if c.Source != connections.SourceZapier {
		return apperr.New(apperr.KindNotFound, "Hook %q not found.", id)
	}
	if err := a.svc.Delete(r.Context(), t, ch, id); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Hook deleted successfully.")
	return nil
}

// hookSample answers Zapier's perform list: an array of payloads in the
// live shape.
func (a *API) hookSample(w http.ResponseWriter, r *http.Request) error {
	ev := r.URL.Query().Get("event")
	if ev != "" && !slices.Contains(connections.Triggers, connections.Trigger(ev)) {
		return apperr.BadRequest("event must be one of email, phone, location, postback, birthday, webview_form, not %q.", ev)
	}
	t, ch := caller(r)
	p, err := a.sample(r.Context(), t, ch, nil)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(append([]byte("["), p...), ']'))
	return nil
}
