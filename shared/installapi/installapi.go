// Package installapi serves seed 004's sender installations: their
// management per channel token (/v1/installations, /v1/installation_hours)
// and the installed sender's pull protocol (GET
// /v1/installations/{installationId}/messages, POST
// …/messages/{messageId}/ack), authenticated by the installation's own
// secret (`Authorization: Bearer is_…`), since the UUID travels in URLs.
// The protocol is documented in docs/installations.md; its rules are in
// shared/installations.
package installapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/hours"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	InstallationStore() installations.Store
	// Phone is nil in the functions that parse no phone numbers.
	Phone() contacts.PhoneNormalizer
	Clock() func() time.Time
}

// InstallationCreate builds the handler of function installation-create.
func InstallationCreate(p Ports) http.Handler { return build(p, (*API).create) }

// InstallationList builds the handler of function installation-list.
func InstallationList(p Ports) http.Handler { return build(p, (*API).list) }

// InstallationGet builds the handler of function installation-get.
func InstallationGet(p Ports) http.Handler { return build(p, (*API).get) }

// InstallationUpdate builds the handler of function installation-update.
func InstallationUpdate(p Ports) http.Handler { return build(p, (*API).update) }

// InstallationHoursGet builds the handler of function installation-hours-get.
func InstallationHoursGet(p Ports) http.Handler { return build(p, (*API).hoursGet) }

// InstallationHoursSet builds the handler of function installation-hours-set.
func InstallationHoursSet(p Ports) http.Handler { return build(p, (*API).hoursSet) }

// InstallationPull builds the handler of function installation-pull.
func InstallationPull(p Ports) http.Handler { return build(p, (*API).pull) }

// InstallationAck builds the handler of function installation-ack.
func InstallationAck(p Ports) http.Handler { return build(p, (*API).ack) }

// API holds the handlers' dependencies.
type API struct {
	Svc *installations.Service
}

// New builds the API from its ports.
func New(p Ports) *API {
	svc := &installations.Service{Store: p.InstallationStore(), Now: p.Clock()}
	if norm := p.Phone(); norm != nil {
		svc.Phone = func(raw, callingCode, country string) (string, error) {
			if callingCode != "" {
				return "", errors.New("no calling codes here")
			}
			return norm(raw, country)
		}
	}
	return &API{Svc: svc}
}

func build(p Ports, h func(*API, http.ResponseWriter, *http.Request) error) http.Handler {
	a := New(p)
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
}

// InstallationCreated is an installation as created: with its secret, shown once.
type InstallationCreated struct {
	installations.Installation
	// Secret authenticates the installed sender's pulls and acks
	// (Authorization: Bearer <secret>); it is stored only as a hash.
	Secret string `json:"secret"`
}

// InstallationBody is a create's or an update's body.
type InstallationBody = installations.Input

func whatsapp(p httpapi.Principal) error {
	if p.ChannelKind != tenancy.WhatsApp {
		return apperr.New(apperr.KindRejected, "This is a %s channel: sender installations belong to WhatsApp channels.", p.ChannelKind)
	}
	return nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	var in InstallationBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if err := whatsapp(p); err != nil {
		return err
	}
	inst, secret, err := a.Svc.Create(r.Context(), p.TenantID, p.ChannelID, p.DefaultCountry, in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, InstallationCreated{Installation: inst, Secret: secret})
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	list, err := a.Svc.List(r.Context(), p.TenantID, p.ChannelID)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, list)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	inst, err := a.Svc.Get(r.Context(), p.TenantID, p.ChannelID, httpapi.PathParam(r, "installationId"))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, inst)
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	var in InstallationBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	inst, err := a.Svc.Update(r.Context(), p.TenantID, p.ChannelID, httpapi.PathParam(r, "installationId"), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, inst)
	return nil
}

// HoursBody is the channel's allowed hours: the default of its
// installations (their own hours, when set, win).
type HoursBody struct {
	Hours hours.Schedule `json:"hours"`
}

func (a *API) hoursGet(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	h, err := a.Svc.Store.ChannelHours(r.Context(), p.TenantID, p.ChannelID)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, HoursBody{Hours: h})
	return nil
}

// HoursInput is PUT /v1/installation_hours' body: hours, an hours.Schedule.
type HoursInput struct {
	Hours json.RawMessage `json:"hours"`
}

func (a *API) hoursSet(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	var in HoursInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if err := whatsapp(p); err != nil {
		return err
	}
	if len(in.Hours) == 0 {
		return apperr.Invalid("hours", "is required")
	}
	h, err := installations.ParseHours("hours", in.Hours)
	if err != nil {
		return err
	}
	if err := a.Svc.Store.SetChannelHours(r.Context(), p.TenantID, p.ChannelID, h); err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, HoursBody{Hours: h})
	return nil
}

// ErrUnauthorized is the answer to an unknown installation or a wrong
// secret on the pull protocol's routes.
var ErrUnauthorized = &httpapi.Error{Status: http.StatusUnauthorized, Message: "Installation UUID or secret is invalid."}

// authenticate is the installation of the path whose secret the
// Authorization header carries (Bearer).
func (a *API) authenticate(r *http.Request) (installations.Installation, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return installations.Installation{}, ErrUnauthorized
	}
	inst, err := a.Svc.Authenticate(r.Context(), httpapi.PathParam(r, "installationId"), strings.TrimSpace(secret))
	if errors.Is(err, installations.ErrUnauthorized) {
		return inst, ErrUnauthorized
	}
	return inst, err
}

// seconds reads an optional whole-seconds query parameter in [lo, hi].
func seconds(r *http.Request, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || time.Duration(n)*time.Second < lo || time.Duration(n)*time.Second > hi {
		return 0, apperr.BadRequest("%s: must be a whole number of seconds from %d to %d.", name, int(lo.Seconds()), int(hi.Seconds()))
	}
	return time.Duration(n) * time.Second, nil
}

// PullPage is a pull's answer: the messages handed out, in order.
type PullPage struct {
	Data []installations.Pulled `json:"data"`
}

func (a *API) pull(w http.ResponseWriter, r *http.Request) error {
	inst, err := a.authenticate(r)
	if err != nil {
		return err
	}
	wait, err := seconds(r, "wait", 0, 0, installations.MaxWait)
	if err != nil {
		return err
	}
	lease, err := seconds(r, "lease", installations.DefaultLease, installations.MinLease, installations.MaxLease)
	if err != nil {
		return err
	}
	limit := installations.DefaultPull
	if v := r.URL.Query().Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > installations.MaxPull {
			return apperr.BadRequest("max: must be a whole number from 1 to %d.", installations.MaxPull)
		}
		limit = n
	}
	out, err := a.Svc.Pull(r.Context(), inst, limit, wait, lease)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, PullPage{Data: out})
	return nil
}

// AckBody is an ack's body.
type AckBody struct {
	// Lease is the message's lease, as the pull gave it.
	Lease string `json:"lease"`
	// Status is sent or failed.
	Status string `json:"status"`
	// Error says why a failed message failed.
	Error string `json:"error,omitempty"`
}

// AcksBody is a batch ack's body: up to 50 acks.
type AcksBody struct {
	Acks []installations.AckInput `json:"acks"`
}

// AckResults is a batch ack's answer, one result per ack in order.
type AckResults struct {
	Data []installations.AckResult `json:"data"`
}

// InstallationAckBatch builds the handler of function installation-ack-batch.
func InstallationAckBatch(p Ports) http.Handler { return build(p, (*API).ackBatch) }

func (a *API) ackBatch(w http.ResponseWriter, r *http.Request) error {
	inst, err := a.authenticate(r)
	if err != nil {
		return err
	}
	var in AcksBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	out, err := a.Svc.AckMany(r.Context(), inst, in.Acks)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, AckResults{Data: out})
	return nil
}

func (a *API) ack(w http.ResponseWriter, r *http.Request) error {
	inst, err := a.authenticate(r)
	if err != nil {
		return err
	}
	var in AckBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	out, err := a.Svc.Ack(r.Context(), inst, httpapi.PathParam(r, "messageId"), in.Lease, in.Status, in.Error)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}
