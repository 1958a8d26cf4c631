package messaging

import (
	"context"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// The message core behind the ports of the WhatsApp intake (inbound
// messages, statuses), of seed 002's sends, of the template check, and
// the Cloud API behind the sender.

// waProvider sends messages through the WhatsApp Cloud API.
type waProvider struct{ e *Env }

func (p waProvider) Send(ctx context.Context, cr sender.Credentials, m messages.Message) (string, error) {
	c, err := p.e.WhatsAppClient()
	if err != nil {
		return "", &sender.Error{Code: sender.CodeNoProvider, Message: "The WhatsApp Cloud API is misconfigured on this stage: " + err.Error()}
	}
	sent, err := c.Send(ctx, whatsapp.Credentials{AccessToken: cr.AccessToken, PhoneNumberID: cr.AccountID, BaseURL: cr.BaseURL}, m)
	if err != nil {
		return "", err
	}
	return sent.WAMID, nil
}

// waCredentials reads WhatsApp channels' Cloud API credentials for the
// sender.
type waCredentials struct{ e *Env }

func (w waCredentials) ProviderCredentials(ctx context.Context, tenantID, channelID string) (sender.Credentials, error) {
	cr, err := w.e.Tenancy().WhatsAppCredentials(ctx, tenantID, channelID)
	if err != nil {
		return sender.Credentials{}, err
	}
	return sender.Credentials{AccessToken: cr.AccessToken.Reveal(), AccountID: cr.PhoneNumberID}, nil
}

// registryTemplates checks template messages against the channel's
// template registry: it exists in that language, is approved, and the
// parameters given fill its header, body and buttons.
type registryTemplates struct{ e *Env }

func (r registryTemplates) CheckTemplate(ctx context.Context, tenantID, channelID string, t messages.Template) error {
	_, err := r.e.TemplateRegistry().ResolveSend(ctx, tenantID, channelID, t)
	return err
}

// waMessages records what the WhatsApp intake takes in the message store.
type waMessages struct{ e *Env }

// Inbound stores an inbound message under an ID derived from its wamid,
// so a second call for the same wamid finds it stored (dup), and opens the
// contact's 24-hour window (again on a retry: the time never goes back).
func (w waMessages) Inbound(ctx context.Context, m messages.Message) (bool, error) {
	store := w.e.Messages()
	m.ID = tenancy.DerivedID("msg", m.TenantID, m.ChannelID, "whatsapp", m.ProviderID)
	if m.ChannelKind == "" {
		m.ChannelKind = string(tenancy.WhatsApp)
	}
	dup := false
	if err := store.CreateMessage(ctx, m); apperr.Is(err, apperr.KindExists) {
		dup = true
	} else if err != nil {
		return false, err
	}
	if m.From != "" {
		if err := store.RecordInbound(ctx, m.TenantID, m.ChannelID, m.From, time.UnixMilli(m.CreatedAt)); err != nil {
			return dup, err
		}
	}
	return dup, nil
}

// ApplyStatus moves the channel's message with provider id wamid forward.
// A status that comes before the sender recorded the message sent (no
// message has that wamid yet) is kept as an early status, which the
// sender's sent write applies (ddbstore.RecordEarlyStatus): no status is
// lost.
func (w waMessages) ApplyStatus(ctx context.Context, tenantID, channelID, wamid string, st messages.Status, at time.Time, f *messages.Failure) error {
	return w.e.Messages().ApplyProviderStatus(ctx, string(tenancy.WhatsApp), tenantID, channelID, wamid, st, at, f)
}

// chatSender queues seed 002's sends: the message stored queued (its
// stream record hands it to the outbox). With an idempotency key the ID
// derives from it, so a repeated send answers the first one's ID.
type chatSender struct{ e *Env }

func (c chatSender) Enqueue(ctx context.Context, m messages.Message, idempotencyKey string) (string, error) {
	if idempotencyKey != "" {
		m.ID = tenancy.DerivedID("msg", m.TenantID, m.ChannelID, "idem", idempotencyKey)
	} else if m.ID == "" {
		m.ID = tenancy.NewID("msg")
	}
	if m.ChannelKind == "" {
		m.ChannelKind = string(tenancy.WhatsApp)
	}
	m.Direction, m.Status = messages.Outbound, messages.StatusQueued
	if m.ContactID == "" && m.To != "" {
		// The channel's contact at that number (made now if it never
		// wrote, as its inbound messages would make it): the message is
		// listed with the contact's messages.
		svc := &contacts.Service{Store: c.e.ContactStore(), Phone: c.e.Phone(), Now: c.e.Now}
		ct, err := svc.ChannelContact(ctx, contacts.Scope{TenantID: m.TenantID, ChannelID: m.ChannelID}, contacts.PhoneContactID(m.To), m.To, "")
		if err != nil {
			return "", err
		}
		m.ContactID = ct.ID
	}
	if m.CreatedAt == 0 {
		m.CreatedAt = c.e.Now().UnixMilli()
	}
	err := c.e.Messages().CreateMessage(ctx, m)
	if apperr.Is(err, apperr.KindExists) && idempotencyKey != "" {
		return m.ID, nil
	}
	return m.ID, err
}

// chatWindow is when a contact last wrote to the channel.
type chatWindow struct{ e *Env }

func (c chatWindow) LastInbound(ctx context.Context, tenantID, channelID, phone string) (time.Time, error) {
	ms, err := c.e.Messages().LastInbound(ctx, tenantID, channelID, phone)
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}
