package tenancy

import (
	"context"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// SMS and voice channels send through Twilio: the account SID and auth
// token that authenticate the calls (and sign Twilio's status callbacks),
// and the sender, a number (E.164) or, for SMS, a messaging service. They
// are set with the admin API, kept on the data table like the WhatsApp
// ones (encrypted at rest with the stack's KMS key) and never shown again:
// the auth token is a Secret.

// TwilioCredentials are an SMS or voice channel's Twilio credentials.
type TwilioCredentials struct {
	TenantID            string `dynamodbav:"tenant_id"`
	ChannelID           string `dynamodbav:"channel_id"`
	AccountSID          string `dynamodbav:"account_sid"`
	AuthToken           Secret `dynamodbav:"auth_token"`
	From                string `dynamodbav:"from,omitempty"`
	MessagingServiceSID string `dynamodbav:"messaging_service_sid,omitempty"`
	UpdatedAt           int64  `dynamodbav:"updated_at"`
}

// TwilioInfo is what a channel shows of its Twilio credentials.
type TwilioInfo struct {
	AccountSID          string `json:"account_sid" dynamodbav:"account_sid"`
	From                string `json:"from,omitempty" dynamodbav:"from,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty" dynamodbav:"messaging_service_sid,omitempty"`
	Configured          bool   `json:"configured" dynamodbav:"configured"`
	UpdatedAt           int64  `json:"updated_at" dynamodbav:"updated_at"`
}

// TwilioInput sets a channel's Twilio credentials: account_sid and
// auth_token, and from (E.164) or, on SMS channels, messaging_service_sid.
type TwilioInput struct {
	AccountSID          string `json:"account_sid"`
	AuthToken           string `json:"auth_token"`
	From                string `json:"from,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
}

// TwilioStore persists Twilio credentials.
type TwilioStore interface {
	// SetTwilio writes c as the channel's credentials and its info on the
	// channel, in one transaction.
	SetTwilio(ctx context.Context, ch Channel, c TwilioCredentials) error
	// TwilioCredentials reads a channel's credentials; apperr.KindNotFound
	// if none are set.
	TwilioCredentials(ctx context.Context, tenantID, channelID string) (TwilioCredentials, error)
}

// twilioSID checks a Twilio SID: its two-letter prefix and 32 hex digits.
func twilioSID(field, prefix, v string) error {
	if len(v) != 34 || !strings.HasPrefix(v, prefix) || strings.Trim(strings.ToLower(v[2:]), "0123456789abcdef") != "" {
		return apperr.Invalidf(field, "must be a Twilio SID: %s followed by 32 hexadecimal digits", prefix)
	}
	return nil
}

// E164 reports whether s is an E.164 number: + and 8 to 15 digits, the
// first not 0.
func E164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}

// SetTwilio sets (replaces) an SMS or voice channel's Twilio credentials.
func (s *Service) SetTwilio(ctx context.Context, tw TwilioStore, tenantID, channelID string, in TwilioInput) (Channel, error) {
	in.AccountSID, in.From, in.MessagingServiceSID = strings.TrimSpace(in.AccountSID), strings.TrimSpace(in.From), strings.TrimSpace(in.MessagingServiceSID)
	if err := twilioSID("account_sid", "AC", in.AccountSID); err != nil {
		return Channel{}, err
	}
	if len(in.AuthToken) != 32 || strings.Trim(strings.ToLower(in.AuthToken), "0123456789abcdef") != "" {
		return Channel{}, apperr.Invalid("auth_token", "must be the account's auth token: 32 hexadecimal digits")
	}
	if in.From != "" && !E164(in.From) {
		return Channel{}, apperr.Invalid("from", "must be a number in E.164 form, such as +15005550006")
	}
	if in.MessagingServiceSID != "" {
		if err := twilioSID("messaging_service_sid", "MG", in.MessagingServiceSID); err != nil {
			return Channel{}, err
		}
	}
	ch, err := s.Store.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return Channel{}, err
	}
	switch {
	case ch.Kind != SMS && ch.Kind != Voice:
		return Channel{}, apperr.Invalidf("kind", "Twilio credentials are for sms and voice channels only; channel %s is %s", ch.ID, ch.Kind)
	case ch.Kind == Voice && in.From == "":
		return Channel{}, apperr.Invalid("from", "is required on a voice channel (the number calls come from)")
	case ch.Kind == Voice && in.MessagingServiceSID != "":
		return Channel{}, apperr.Invalid("messaging_service_sid", "is for sms channels only")
	case in.From == "" && in.MessagingServiceSID == "":
		return Channel{}, apperr.Invalid("from", "give from (the sending number) or messaging_service_sid")
	}
	c := TwilioCredentials{TenantID: tenantID, ChannelID: ch.ID, AccountSID: in.AccountSID, AuthToken: Secret(in.AuthToken),
		From: in.From, MessagingServiceSID: in.MessagingServiceSID, UpdatedAt: s.Now().Unix()}
	if err := tw.SetTwilio(ctx, ch, c); err != nil {
		return Channel{}, err
	}
	ch.Twilio = &TwilioInfo{AccountSID: c.AccountSID, From: c.From, MessagingServiceSID: c.MessagingServiceSID, Configured: true, UpdatedAt: c.UpdatedAt}
	return ch, nil
}
