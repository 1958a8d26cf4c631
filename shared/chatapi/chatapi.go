// Package chatapi serves seed 002's chat-api style routes for WhatsApp
// channels, authenticated by a channel token in `?token=`:
// `POST /instance{id}/sendTemplate` and `/sendTemplate` (an approved
// template: starts a conversation), `POST /instance{id}/message` and
// `/message` (free-form text, inside the contact's 24-hour window),
// `POST /instance{id}/webhook` and `/webhook` (where inbound messages go)
// and `GET|POST /instance{id}/me` (the WhatsApp business profile).
//
// `instance{id}` is one path segment, the `{instance}` parameter of the
// route table (API Gateway cannot split a segment): the handler checks that
// it reads "instance" and a number, and that the number is the calling
// token's channel's instance (another instance's is a 403).
//
// What other parts of the system do is reached through ports: the template
// registry, the message core's outbox and its record of each contact's last
// inbound message, the channels' instance ids and the provider's business
// profile.
package chatapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/chatapi/chatports"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The ports, declared in chatports (which wiring imports without linking
// these handlers).
type (
	TemplateLookup = chatports.TemplateLookup
	Sender         = chatports.Sender
	Window         = chatports.Window
	Instances      = chatports.Instances
	Profiles       = chatports.Profiles
	Profile        = chatports.Profile
)

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	ChatTemplates() TemplateLookup
	ChatSender() Sender
	ChatWindow() Window
	ChatInstances() Instances
	ChatProfiles() Profiles
	ConnectionStore() connections.Store
	Setting(key string) string
	Clock() func() time.Time
	TenantLimits() limits.Limits
	Phone() contacts.PhoneNormalizer
}

// The handlers, one builder per function.

// ChatapiSendTemplate builds the handler of function chatapi-send-template.
func ChatapiSendTemplate(p Ports) http.Handler { return build(p, false, (*API).sendTemplate) }

// ChatapiInstanceSendTemplate builds the handler of function chatapi-instance-send-template.
func ChatapiInstanceSendTemplate(p Ports) http.Handler { return build(p, true, (*API).sendTemplate) }

// ChatapiMessage builds the handler of function chatapi-message.
func ChatapiMessage(p Ports) http.Handler { return build(p, false, (*API).message) }

// ChatapiInstanceMessage builds the handler of function chatapi-instance-message.
func ChatapiInstanceMessage(p Ports) http.Handler { return build(p, true, (*API).message) }

// ChatapiWebhook builds the handler of function chatapi-webhook.
func ChatapiWebhook(p Ports) http.Handler { return build(p, false, (*API).webhook) }

// ChatapiInstanceWebhook builds the handler of function chatapi-instance-webhook.
func ChatapiInstanceWebhook(p Ports) http.Handler { return build(p, true, (*API).webhook) }

// ChatapiInstanceMeGet builds the handler of function chatapi-instance-me-get.
func ChatapiInstanceMeGet(p Ports) http.Handler { return build(p, true, (*API).meGet) }

// ChatapiInstanceMeSet builds the handler of function chatapi-instance-me-set.
func ChatapiInstanceMeSet(p Ports) http.Handler { return build(p, true, (*API).meSet) }

// API holds the handlers' dependencies.
type API struct {
	p   Ports
	now func() time.Time
}

// call is one request's caller and its channel's instance id.
type call struct {
	tenantID, channelID, instanceID string
}

func build(p Ports, instance bool, h func(*API, http.ResponseWriter, *http.Request, call) error) http.Handler {
	a := &API{p: p, now: p.Clock()}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.caller(r, instance)
		if err != nil {
			return err
		}
		return h(a, w, r, c)
	})
}

// InstanceParam is the route table's path parameter for `instance{id}`.
const InstanceParam = "instance"

// ParseInstance reads the instance id of an `instance{id}` path segment:
// "instance" and 1 to 18 digits without a leading zero.
func ParseInstance(seg string) (string, bool) {
	id, ok := strings.CutPrefix(seg, "instance")
	if !ok || id == "" || len(id) > 18 || id[0] == '0' {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return "", false
		}
	}
	return id, true
}

// caller checks that the token is a WhatsApp channel's and, on an
// `instance{id}` route, that the instance is its channel's.
func (a *API) caller(r *http.Request, instance bool) (call, error) {
	p := httpapi.CallerOf(r)
	if p.ChannelKind != tenancy.WhatsApp {
		return call{}, apperr.Forbidden("These chat-api routes are for WhatsApp channels: this token's channel is a %s channel.", p.ChannelKind)
	}
	c := call{tenantID: p.TenantID, channelID: p.ChannelID}
	if !instance {
		return c, nil
	}
	id, ok := ParseInstance(httpapi.PathParam(r, InstanceParam))
	if !ok {
		return call{}, httpapi.ErrNotFound
	}
	own, err := a.p.ChatInstances().InstanceOf(r.Context(), p.TenantID, p.ChannelID)
	if err != nil {
		return call{}, err
	}
	c.instanceID = own
	if own == "" || id != own {
		return call{}, apperr.Forbidden("This token does not belong to instance %s.", id)
	}
	return c, nil
}

// Sent is the answer to a send, as chat-api gave it.
type Sent struct {
	Sent    bool   `json:"sent"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

// SendTemplateBody is POST /sendTemplate's body (seed 002).
type SendTemplateBody struct {
	// Phone is the recipient's number with its country code, without "+"
	// (79995253422); ChatID is the same as a chat ID (79995253422@c.us).
	Phone     string `json:"phone,omitempty"`
	ChatID    string `json:"chatId,omitempty"`
	Template  string `json:"template"`
	Namespace string `json:"namespace,omitempty"`
	// Language is the template's language: code (en, en_US) and policy
	// ("deterministic", the only one WhatsApp keeps).
	Language *TemplateLanguage `json:"language"`
	// Params are the body's {{1}}, {{2}}, … values, in order.
	Params []string `json:"params,omitempty"`
}

// TemplateLanguage is a send's template language.
type TemplateLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// MessageBody is POST /message's body (seed 002).
type MessageBody struct {
	Phone  string `json:"phone,omitempty"`
	ChatID string `json:"chatId,omitempty"`
	// Body is the text, 1 to 4,096 characters.
	Body string `json:"body"`
}

func (a *API) sendTemplate(w http.ResponseWriter, r *http.Request, c call) error {
	var in SendTemplateBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	to, err := a.recipient(in.Phone, in.ChatID)
	if err != nil {
		return err
	}
	if in.Template == "" {
		return apperr.Invalid("template", "is required: the name of an approved template")
	}
	if err := templates.CheckName("template", in.Template); err != nil {
		return err
	}
	if in.Language == nil {
		return apperr.Invalid("language", `is required: {"code":"en","policy":"deterministic"}`)
	}
	if err := templates.CheckLanguage("language.code", in.Language.Code); err != nil {
		return err
	}
	switch in.Language.Policy {
	case "", "deterministic":
	default:
		return apperr.Invalidf("language.policy", `must be "deterministic" (the only policy WhatsApp keeps), not %q`, in.Language.Policy)
	}
	if err := templates.CheckNamespace("namespace", in.Namespace); err != nil {
		return err
	}
	tpl, err := a.p.ChatTemplates().Lookup(r.Context(), c.tenantID, c.channelID, in.Template, in.Namespace, in.Language.Code)
	if err != nil {
		return err
	}
	if err := tpl.CheckParams("params", in.Params); err != nil {
		return err
	}
	m := a.outbound(c, to, messages.TypeTemplate)
	m.Template = &messages.Template{Name: tpl.Name, Namespace: tpl.Namespace, Language: tpl.Language, Params: in.Params}
	return a.enqueue(w, r, m)
}

func (a *API) message(w http.ResponseWriter, r *http.Request, c call) error {
	var in MessageBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	to, err := a.recipient(in.Phone, in.ChatID)
	if err != nil {
		return err
	}
	if strings.TrimSpace(in.Body) == "" {
		return apperr.Invalid("body", "is required: the message's text")
	}
	if n := len([]rune(in.Body)); n > messages.MaxTextChars {
		return apperr.Invalidf("body", "must be at most %d characters, not %d", messages.MaxTextChars, n)
	}
	last, err := a.p.ChatWindow().LastInbound(r.Context(), c.tenantID, c.channelID, to)
	if err != nil {
		return err
	}
	now := a.now()
	var lastMs int64
	if !last.IsZero() {
		lastMs = last.UnixMilli()
	}
	if !messages.InWindow(lastMs, now) {
		return windowClosed(to, last)
	}
	m := a.outbound(c, to, messages.TypeText)
	m.Text = &messages.Text{Body: in.Body}
	return a.enqueue(w, r, m)
}

// windowClosed is the refusal of a free-form message outside the 24-hour
// customer service window.
func windowClosed(to string, last time.Time) error {
	why := "has not written to this channel"
	if !last.IsZero() {
		why = "last wrote at " + last.UTC().Format(time.RFC3339) + ", more than 24 hours ago"
	}
	return apperr.New(apperr.KindRejected,
		"The 24-hour customer service window with %s is closed: the contact %s. A free-form message can be sent only within 24 hours of the contact's last message; send an approved template (POST /sendTemplate) to start the conversation.",
		strings.TrimPrefix(to, "+"), why)
}

func (a *API) outbound(c call, to string, typ messages.Type) messages.Message {
	return messages.Message{TenantID: c.tenantID, ChannelID: c.channelID, Direction: messages.Outbound, Type: typ,
		To: to, Status: messages.StatusQueued, CreatedAt: a.now().UnixMilli()}
}

func (a *API) enqueue(w http.ResponseWriter, r *http.Request, m messages.Message) error {
	id, err := a.p.ChatSender().Enqueue(r.Context(), m, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, Sent{Sent: true, ID: id, Message: "Queued for sending to " + connections.ChatID(m.To)})
	return nil
}

// recipient reads a send's recipient, by phone (with its country code,
// "+" optional) or chat ID, as E.164.
func (a *API) recipient(phone, chatID string) (string, error) {
	field, raw := "phone", phone
	switch {
	case phone != "" && chatID != "":
		if strings.TrimPrefix(strings.TrimSpace(phone), "+") != strings.TrimSuffix(strings.TrimSpace(chatID), "@c.us") {
			return "", apperr.Invalid("chatId", "names another number than phone: give one of them")
		}
	case chatID != "":
		field = "chatId"
		id := strings.TrimSpace(chatID)
		if strings.HasSuffix(id, "@g.us") {
			return "", apperr.Invalid(field, "is a group chat; messages go to one contact (<number>@c.us)")
		}
		num, ok := strings.CutSuffix(id, "@c.us")
		if !ok {
			return "", apperr.Invalidf(field, "must be the contact's number and @c.us, as 79995253422@c.us, not %q", chatID)
		}
		raw = num
	case phone == "":
		return "", apperr.Invalid("phone", "is required: the recipient's number with its country code, as 79995253422 (or chatId)")
	}
	digits := strings.TrimPrefix(strings.TrimSpace(raw), "+")
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return "", apperr.Invalidf(field, "must be a phone number with its country code, digits only, as 79995253422, not %q", raw)
	}
	if norm := a.p.Phone(); norm != nil {
		e164, err := norm("+"+digits, "")
		if err != nil {
			return "", apperr.Invalidf(field, "%q is not a valid phone number with its country code", raw)
		}
		return e164, nil
	}
	return "+" + digits, nil
}
