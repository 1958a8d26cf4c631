package messaging

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/chatapi/chatports"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// The WhatsApp Cloud API behind the ports that call it: the business
// profile of seed 002's /instance{id}/me, template submission, template
// status updates from the webhook, and instance ids.

var (
	waOnce   sync.Once
	waClient *whatsapp.Client
	waErr    error
)

// WhatsAppClient is the instance's Cloud API client (WHATSAPP_API_BASE_URL,
// WHATSAPP_API_VERSION; Meta's own by default).
func (e *Env) WhatsAppClient() (*whatsapp.Client, error) {
	waOnce.Do(func() { waClient, waErr = whatsapp.NewFromEnv(os.Getenv) })
	return waClient, waErr
}

// whatsAppCreds reads a channel's Cloud API credentials: a clear refusal
// when the channel has none.
func (e *Env) whatsAppCreds(ctx context.Context, tenantID, channelID string) (*whatsapp.Client, whatsapp.Credentials, error) {
	c, err := e.WhatsAppClient()
	if err != nil {
		return nil, whatsapp.Credentials{}, apperr.Unavailable("The WhatsApp Cloud API is not configured on this deployment.")
	}
	cr, err := e.Tenancy().WhatsAppCredentials(ctx, tenantID, channelID)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, whatsapp.Credentials{}, apperr.New(apperr.KindRejected,
			"This WhatsApp channel has no Cloud API credentials yet: an administrator sets them with PUT /admin/tenants/{tenantId}/channels/{channelId}/whatsapp.")
	}
	if err != nil {
		return nil, whatsapp.Credentials{}, err
	}
	return c, whatsapp.Credentials{AccessToken: cr.AccessToken.Reveal(), PhoneNumberID: cr.PhoneNumberID, WABAID: cr.WABAID}, nil
}

// providerErr turns the Cloud API's refusal into the API's words: the
// provider's own message for what it refused, 503 when it did not answer.
func providerErr(err error) error {
	var fe *whatsapp.FieldError
	if errors.As(err, &fe) {
		return apperr.Invalid(fe.Field, fe.Message)
	}
	if we, ok := whatsapp.AsError(err); ok {
		if we.Retryable() {
			return apperr.Unavailable("WhatsApp did not take the call (%s %s); try again later.", we.ProviderCode(), we.ProviderMessage())
		}
		return apperr.New(apperr.KindRejected, "WhatsApp refused the call: %s %s", we.ProviderCode(), we.ProviderMessage())
	}
	return err
}

// waProfiles is the business profile at the provider.
type waProfiles struct{ e *Env }

func (p waProfiles) GetProfile(ctx context.Context, tenantID, channelID string) (chatports.Profile, error) {
	c, cr, err := p.e.whatsAppCreds(ctx, tenantID, channelID)
	if err != nil {
		return chatports.Profile{}, err
	}
	wp, err := c.GetProfile(ctx, cr)
	if err != nil {
		return chatports.Profile{}, providerErr(err)
	}
	return chatports.Profile{About: wp.About, Address: wp.Address, Description: wp.Description, Email: wp.Email,
		Vertical: wp.Vertical, Websites: wp.Websites}, nil
}

func (p waProfiles) SetProfile(ctx context.Context, tenantID, channelID string, u chatports.Profile) (chatports.Profile, error) {
	c, cr, err := p.e.whatsAppCreds(ctx, tenantID, channelID)
	if err != nil {
		return chatports.Profile{}, err
	}
	if err := c.UpdateProfile(ctx, cr, whatsapp.Profile{About: u.About, Address: u.Address, Description: u.Description,
		Email: u.Email, Vertical: u.Vertical, Websites: u.Websites}); err != nil {
		return chatports.Profile{}, providerErr(err)
	}
	return p.GetProfile(ctx, tenantID, channelID)
}

// waSubmitter submits templates to the channel's WhatsApp Business Account.
type waSubmitter struct{ e *Env }

// Submit submits a template. A channel without Cloud API credentials keeps its templates in the
// registry, PENDING, unsubmitted: delete and create one again after the
// credentials are set to submit it.
func (s waSubmitter) Submit(ctx context.Context, t templates.Template) (string, error) {
	if _, err := s.e.Tenancy().WhatsAppCredentials(ctx, t.TenantID, t.ChannelID); apperr.Is(err, apperr.KindNotFound) {
		return "", nil
	}
	c, cr, err := s.e.whatsAppCreds(ctx, t.TenantID, t.ChannelID)
	if err != nil {
		return "", err
	}
	def := whatsapp.TemplateDef{Name: t.Name, Language: t.Language, Category: t.Category}
	for _, comp := range t.Components {
		dc := whatsapp.TemplateDefComponent{Type: comp.Type, Format: comp.Format, Text: comp.Text}
		if comp.Example != nil {
			dc.Example = &whatsapp.TemplateExample{HeaderText: comp.Example.HeaderText, BodyText: comp.Example.BodyText}
		}
		for _, b := range comp.Buttons {
			dc.Buttons = append(dc.Buttons, whatsapp.TemplateButton{Type: b.Type, Text: b.Text, URL: b.URL, PhoneNumber: b.PhoneNumber})
		}
		def.Components = append(def.Components, dc)
	}
	created, err := c.CreateTemplate(ctx, cr, def)
	if err != nil {
		return "", providerErr(err)
	}
	return created.ID, nil
}

// Withdraw leaves the template at the provider: the Cloud API deletes by
// name for every language at once, which would take the template's other
// languages with it. The registry forgets it; Meta keeps it until it is
// deleted in WhatsApp Manager.
func (s waSubmitter) Withdraw(context.Context, templates.Template) error { return nil }

// waTemplateStatuses applies the webhook's template status updates to the
// registry.
type waTemplateStatuses struct{ e *Env }

func (w waTemplateStatuses) TemplateStatus(ctx context.Context, tenantID, channelID string, u wahook.TemplateStatusUpdate) error {
	st, err := templates.ParseStatus("status", u.Event)
	if err != nil {
		// An event the registry has no status for (FLAGGED, ...): nothing
		// to record.
		return nil
	}
	return w.e.TemplateRegistry().SetStatus(ctx, tenantID, channelID, u.Name, u.Language, st, u.Reason)
}

// channelInstances answers a channel's instance id.
type channelInstances struct{ e *Env }

// instanceIDs keeps the channels' instance ids this process read: a
// channel's id, once given, never changes (tenancy.Service.SetWhatsApp
// gives one only to a channel without), so a seed-002 call on an
// instance route reads its channel once per process, not once per call.
// A channel without one yet is read again each time.
var instanceIDs = struct {
	sync.Mutex
	m map[[2]string]string
}{}

// maxInstanceIDs bounds instanceIDs: when full it starts again empty.
const maxInstanceIDs = 4096

func (c channelInstances) InstanceOf(ctx context.Context, tenantID, channelID string) (string, error) {
	k := [2]string{tenantID, channelID}
	instanceIDs.Lock()
	id, ok := instanceIDs.m[k]
	instanceIDs.Unlock()
	if ok {
		return id, nil
	}
	ch, err := c.e.Tenancy().GetChannel(ctx, tenantID, channelID)
	if err != nil || ch.InstanceID == 0 {
		return "", err
	}
	id = strconv.FormatInt(ch.InstanceID, 10)
	instanceIDs.Lock()
	if instanceIDs.m == nil || len(instanceIDs.m) >= maxInstanceIDs {
		instanceIDs.m = map[[2]string]string{}
	}
	instanceIDs.m[k] = id
	instanceIDs.Unlock()
	return id, nil
}
