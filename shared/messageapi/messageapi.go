// Package messageapi serves the Messages API (per channel token): POST
// /v1/messages stores an outbound message, queued, and nothing else (the
// table's stream hands it to the sender through the trigger router and the
// outbox queue); GET /v1/messages/{messageId} and GET
// /v1/contact/{contactId}/messages read them back. Phone parsing is a port
// (message-send is started with wiring.WithPhone), and so is the channel's
// template registry (messages.Templates).
package messageapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Ports are what the message handlers need; shared/wiring provides them.
type Ports interface {
	MessageStore() messages.Store
	ContactStore() contacts.Store
	IdempotencyStore() idempotency.Store
	// MessageTemplates checks template messages against the channel's
	// template registry.
	MessageTemplates() messages.Templates
	// Phone is nil in the functions that parse no phone numbers.
	Phone() contacts.PhoneNormalizer
	// FixedLine reports whether a number is a fixed line (SMS to it are
	// refused); nil: no number is.
	FixedLine() func(string) bool
	Clock() func() time.Time
	Setting(key string) string
}

// MessageSend builds the handler of function message-send.
func MessageSend(p Ports) http.Handler {
	return idempotency.Middleware(p.IdempotencyStore(), "message-send", p.Clock(), build((*API).send)(p))
}

// MessageGet builds the handler of function message-get.
func MessageGet(p Ports) http.Handler { return build((*API).get)(p) }

// ContactMessageList builds the handler of function contact-message-list.
func ContactMessageList(p Ports) http.Handler { return build((*API).list)(p) }

// MessageList builds the handler of function message-list.
func MessageList(p Ports) http.Handler { return build((*API).listChannel)(p) }

// API holds the handlers' dependencies.
type API struct {
	Store     messages.Store
	Contacts  *contacts.Service
	Templates messages.Templates
	Phone     contacts.PhoneNormalizer
	FixedLine func(string) bool
	Now       func() time.Time
	// Links is the SSRF guard's policy for media links.
	Links netguard.Policy
}

// New builds the API from its ports.
func New(p Ports) *API {
	return &API{
		Store:     p.MessageStore(),
		Contacts:  &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()},
		Templates: p.MessageTemplates(),
		Phone:     p.Phone(),
		FixedLine: p.FixedLine(),
		Now:       p.Clock(),
		Links:     LinkPolicy(p.Setting),
	}
}

// LinkPolicy is the SSRF guard's policy for media links: the provider
// fetches them, so they must point at the public internet (loopback only
// under `make run`, ALLOW_LOOPBACK_TARGETS=true); http and https both.
func LinkPolicy(getenv func(string) string) netguard.Policy {
	return netguard.Policy{AllowLoopback: getenv(appenv.AllowLoopbackTargets) == "true"}
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := New(p)
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
	}
}

// Queued is POST /v1/messages' answer (in {"data":…}).
type Queued struct {
	ID     string          `json:"id"`
	Status messages.Status `json:"status"`
}

// SendBody is POST /v1/messages' body (named for the OpenAPI document).
type SendBody = messages.SendRequest

// Sendable reports whether messages can be sent on channels of kind k:
// WhatsApp (the Cloud API), SMS and voice (Twilio: an SMS, a call that
// says the text).
func Sendable(k tenancy.ChannelKind) bool {
	return k == tenancy.WhatsApp || k == tenancy.SMS || k == tenancy.Voice
}

// phoneChannel reports whether k's messages are SMS or calls.
func phoneChannel(k tenancy.ChannelKind) bool { return k == tenancy.SMS || k == tenancy.Voice }

func (a *API) send(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	var in messages.SendRequest
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	if !Sendable(p.ChannelKind) {
		return apperr.New(apperr.KindRejected, "This is a %s channel: messages can be sent on WhatsApp, SMS and voice channels only.", p.ChannelKind)
	}
	if phoneChannel(p.ChannelKind) {
		if in.Type != messages.TypeText {
			return apperr.Invalidf("type", "must be text on a %s channel (an SMS, or a call that says the text), not %s", p.ChannelKind, in.Type)
		}
		if err := messages.CheckPhoneText(string(p.ChannelKind), "text.body", in.Text.Body); err != nil {
			return err
		}
	}
	if in.Media != nil {
		if _, err := a.Links.ParseURL(in.Media.Link); err != nil {
			var b *netguard.BlockedError
			if errors.As(err, &b) {
				return apperr.Rejected("media.link", b.Reason)
			}
			return apperr.Rejected("media.link", "is not a URL the provider may fetch")
		}
	}
	if in.Template != nil {
		// A media header's link is fetched by the provider too.
		for field, link := range in.Template.Template().MediaLinks("template.") {
			if _, err := a.Links.ParseURL(link); err != nil {
				var b *netguard.BlockedError
				if errors.As(err, &b) {
					return apperr.Rejected(field, b.Reason)
				}
				return apperr.Rejected(field, "is not a URL the provider may fetch")
			}
		}
	}
	ctx := r.Context()
	text, tpl, media := in.Payload()
	m := messages.Message{
		ID: tenancy.NewID("msg"), TenantID: p.TenantID, ChannelID: p.ChannelID, ChannelKind: string(p.ChannelKind),
		Direction: messages.Outbound, Type: in.Type, Text: text, Template: tpl, Media: media,
		Status: messages.StatusQueued,
	}
	scope := contacts.Scope{TenantID: p.TenantID, ChannelID: p.ChannelID, DefaultCountry: p.DefaultCountry}
	contactID := in.ContactID
	if contactID == "" {
		if a.Phone == nil {
			return errors.New("message-send: no phone normaliser (start it with wiring.WithPhone)")
		}
		to, err := a.Phone(in.To, p.DefaultCountry)
		if err != nil {
			return apperr.Invalidf("to", "%q is not a valid phone number (E.164 such as +923244077087, or a national number in the channel's country %s)",
				in.To, p.DefaultCountry)
		}
		m.To = to
		// The message belongs to the channel's contact at that number, the
		// one its inbound messages go to (ID: the number's digits), so it
		// is listed with the contact's messages; a number that never wrote
		// gets its contact once the message is accepted, below.
		contactID = contacts.PhoneContactID(to)
	}
	// The contact and the template (or the window record) are independent
	// reads: made at once, each item read once.
	var (
		c       contacts.Contact
		cErr    error
		tplErr  error
		winLast int64
		winErr  error
		wg      sync.WaitGroup
	)
	// SMS and calls have no customer service window.
	freeForm := messages.FreeForm(in.Type) && !phoneChannel(p.ChannelKind)
	wg.Go(func() { c, cErr = a.Contacts.Get(ctx, scope, contactID) })
	if tpl != nil {
		wg.Go(func() { tplErr = a.Templates.CheckTemplate(ctx, p.TenantID, p.ChannelID, *tpl) })
	} else if freeForm && m.To != "" {
		wg.Go(func() { winLast, winErr = a.Store.LastInbound(ctx, p.TenantID, p.ChannelID, m.To) })
	}
	wg.Wait()
	found := cErr == nil
	switch {
	case found:
	case !apperr.Is(cErr, apperr.KindNotFound):
		return cErr
	case in.ContactID != "":
		return apperr.Rejected("contact_id", fmt.Sprintf("no contact %q on this channel", in.ContactID))
	}
	var lastInbound int64
	if found {
		if in.ContactID != "" {
			if c.Fields["phone"] == "" {
				return apperr.Rejected("contact_id", fmt.Sprintf("contact %q has no phone number to send to", in.ContactID))
			}
			m.To = c.Fields["phone"]
		}
		m.ContactID = c.ID
		lastInbound = c.LastInbound[p.ChannelID] * 1000
	}
	if freeForm {
		if m.To != "" && in.To == "" {
			// The address came with the contact: its window record now.
			winLast, winErr = a.Store.LastInbound(ctx, p.TenantID, p.ChannelID, m.To)
		}
		if winErr != nil {
			return winErr
		}
		if !messages.InWindow(max(winLast, lastInbound), a.Now()) {
			return messages.WindowClosed()
		}
	} else if tplErr != nil {
		return tplErr
	}
	if phoneChannel(p.ChannelKind) && !tenancy.E164(m.To) {
		field := "to"
		if in.ContactID != "" {
			field = "contact_id"
		}
		return apperr.Invalidf(field, "%q is not a valid phone number for an SMS or a call (E.164: + and 8 to 15 digits)", m.To)
	}
	if p.ChannelKind == tenancy.SMS && a.FixedLine != nil && a.FixedLine(m.To) {
		field := "to"
		if in.ContactID != "" {
			field = "contact_id"
		}
		return messages.FixedLineSMS(field, m.To)
	}
	if m.ContactID == "" {
		// Made as an inbound message makes it: phone, ID its digits (read
		// just now and absent: created without reading it again). The
		// message is not written in the contact's transaction: a
		// transaction item costs two write units, and under msgbench the
		// emulator spent more per message with it than with the PutItem.
		c, err := a.Contacts.NewChannelContact(ctx, scope, contacts.PhoneContactID(m.To), m.To, "")
		if err != nil {
			return err
		}
		m.ContactID = c.ID
	}
	m.CreatedAt = a.Now().UnixMilli()
	if err := a.Store.CreateMessage(ctx, m); err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusAccepted, Queued{ID: m.ID, Status: m.Status})
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	id := httpapi.PathParam(r, "messageId")
	m, err := a.Store.GetMessage(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	// A channel token reads its channel's messages; the account secret
	// (routes.AuthChannelOrAccount) any of its tenant's, as the key holds
	// the tenant. Another's is answered as an unknown one.
	if p.Kind != string(tenancy.AccountSecret) && m.ChannelID != p.ChannelID {
		return apperr.NotFound("Message", id)
	}
	httpapi.WriteData(w, http.StatusOK, m)
	return nil
}

// Page is GET /v1/contact/{contactId}/messages' answer.
type Page struct {
	Data  []messages.Message `json:"data"`
	Links Links              `json:"links"`
}

// Links holds the next page's URL, null on the last page.
type Links struct {
	Next *string `json:"next"`
}

// MaxPage is the largest page of a contact's messages.
const MaxPage = 100

// defaultPage is a page's size when ?limit= is not given.
const defaultPage = 20

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	return a.writePage(w, r, func(limit int, cursor string) (messages.Page, error) {
		p := httpapi.CallerOf(r)
		return a.Store.ListContactMessages(r.Context(), p.TenantID, p.ChannelID, httpapi.PathParam(r, "contactId"), limit, cursor)
	})
}

// listChannel answers GET /v1/messages: the caller's channel's messages,
// newest first.
func (a *API) listChannel(w http.ResponseWriter, r *http.Request) error {
	return a.writePage(w, r, func(limit int, cursor string) (messages.Page, error) {
		p := httpapi.CallerOf(r)
		return a.Store.ListChannelMessages(r.Context(), p.TenantID, p.ChannelID, limit, cursor)
	})
}

// writePage reads ?limit= and ?cursor=, lists one page and writes it with
// the next page's link.
func (a *API) writePage(w http.ResponseWriter, r *http.Request, list func(limit int, cursor string) (messages.Page, error)) error {
	q := r.URL.Query()
	limit := defaultPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPage {
			return apperr.BadRequest("limit: must be a whole number from 1 to %d.", MaxPage)
		}
		limit = n
	}
	page, err := list(limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := Page{Data: page.Items}
	if page.Next != "" {
		u := httpapi.PublicURL(r)
		u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {page.Next}}.Encode()
		s := u.String()
		out.Links.Next = &s
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
