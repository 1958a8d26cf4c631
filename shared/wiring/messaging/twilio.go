package messaging

import (
	"context"
	"net/url"
	"os"
	"strings"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/twilio"
)

// Twilio behind the sender: SMS channels' messages go out as SMS
// (Messages.json), voice channels' as calls that say the text
// (Calls.json with <Say> TwiML).

// Environment of the Twilio provider.
const (
	// EnvTwilioBaseURL points the provider at another Twilio API base
	// (the sandbox under make run, tests); Twilio's own when unset.
	EnvTwilioBaseURL = "TWILIO_API_BASE_URL"
	// EnvTwilioCallbackURL is the API's status callback route without its
	// last two segments (…/v1/webhooks/twilio): a send asks Twilio to post
	// its statuses to <it>/<tenant>/<channel>. Unset: no status callbacks
	// are asked for (messages stay sent).
	EnvTwilioCallbackURL = appenv.TwilioStatusCallbackURL
)

var twilioClient = &twilio.Client{}

// twilioProvider sends an SMS or voice channel's messages.
type twilioProvider struct {
	kind tenancy.ChannelKind
}

// StatusCallbackURL is where Twilio posts the statuses of a channel's
// messages, under base (EnvTwilioCallbackURL).
func StatusCallbackURL(base, tenantID, channelID string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(tenantID) + "/" + url.PathEscape(channelID)
}

func (p twilioProvider) Send(ctx context.Context, cr sender.Credentials, m messages.Message) (string, error) {
	if m.Type != messages.TypeText || m.Text == nil {
		return "", &sender.Error{Code: "unsupported_type", Message: "Only text messages go out on " + string(p.kind) + " channels."}
	}
	tc := twilio.Credentials{AccountSID: cr.AccountID, AuthToken: cr.AccessToken, BaseURL: cr.BaseURL, From: cr.From}
	if tc.BaseURL == "" {
		tc.BaseURL = os.Getenv(EnvTwilioBaseURL)
	}
	if strings.HasPrefix(cr.From, "MG") {
		tc.From, tc.MessagingServiceSID = "", cr.From
	}
	cb := StatusCallbackURL(os.Getenv(EnvTwilioCallbackURL), m.TenantID, m.ChannelID)
	var (
		sent twilio.Sent
		err  error
	)
	if p.kind == tenancy.Voice {
		sent, err = twilioClient.Call(ctx, tc, m.To, twilio.SayTwiML(m.Text.Body), cb)
	} else {
		sent, err = twilioClient.SMS(ctx, tc, m.To, m.Text.Body, cb)
	}
	return sent.SID, err
}

// channelCredentials reads a channel's provider credentials: its Cloud
// API credentials (WhatsApp channels, read first: the hot path), else its
// Twilio credentials (SMS and voice channels).
type channelCredentials struct{ e *Env }

func (c channelCredentials) ProviderCredentials(ctx context.Context, tenantID, channelID string) (sender.Credentials, error) {
	cr, err := waCredentials(c).ProviderCredentials(ctx, tenantID, channelID)
	if !apperr.Is(err, apperr.KindNotFound) {
		return cr, err
	}
	tw, err := c.e.Tenancy().TwilioCredentials(ctx, tenantID, channelID)
	if err != nil {
		return sender.Credentials{}, err
	}
	from := tw.From
	if from == "" {
		from = tw.MessagingServiceSID
	}
	return sender.Credentials{AccessToken: tw.AuthToken.Reveal(), AccountID: tw.AccountSID, From: from}, nil
}
