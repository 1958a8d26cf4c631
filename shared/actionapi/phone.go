package actionapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Seed 003's "Send SMS" and "Send call": {number, text, type:"SMS"|"CALL"}.
// Each becomes an outbound text message on one of the tenant's channels,
// stored queued and nothing else: the table's stream takes it to the
// trigger router, the outbox queue and the sender, which sends it through
// the channel's Twilio account (an SMS, or a call that says the text), as
// POST /v1/messages does on that channel. The message belongs to no
// contact (the account secret sees the tenant's contacts, none of a
// channel's); GET /v1/messages/{idMessage} reads it back with the account
// secret.
//
// The channel: an SMS goes out on the tenant's sms channel, a call on its
// voice channel. With several, the oldest (created first; the lower ID on
// a tie) of those whose Twilio credentials are set; with none of the kind,
// or none with credentials, the action's result is an error that says so.
//
// Every check is made before anything is written, so an action refused is
// stored nowhere: the number (E.164 with its country code, as NEW's
// Number: "+526643596440" or "526643596440"; no fixed line for an SMS), the
// text (not empty; an SMS at most 1,600 characters, a call's TwiML at most
// 4,000 after escaping) and the channel.

// channels loads the tenant's channels once per request, when an action
// needs them.
type channels struct {
	load   func() ([]tenancy.Channel, error)
	loaded bool
	list   []tenancy.Channel
	err    error
}

func (c *channels) get() ([]tenancy.Channel, error) {
	if !c.loaded {
		c.list, c.err = c.load()
		c.loaded = true
	}
	return c.list, c.err
}

// phoneKind is the channel kind an action's message goes out on.
func phoneKind(typ string) tenancy.ChannelKind {
	if typ == "CALL" {
		return tenancy.Voice
	}
	return tenancy.SMS
}

// PickPhoneChannel is the channel of kind k (sms or voice) that the action
// API sends on: the oldest with Twilio credentials (the lower ID on a
// tie). The error names what is missing.
func PickPhoneChannel(list []tenancy.Channel, k tenancy.ChannelKind) (tenancy.Channel, error) {
	var of, ready []tenancy.Channel
	for _, c := range list {
		if c.Kind != k {
			continue
		}
		of = append(of, c)
		if c.Twilio != nil && c.Twilio.Configured {
			ready = append(ready, c)
		}
	}
	what := "an SMS"
	if k == tenancy.Voice {
		what = "a call"
	}
	if len(of) == 0 {
		return tenancy.Channel{}, apperr.New(apperr.KindRejected, "This account has no %s channel to send %s from (an operator adds one with the admin API).", k, what)
	}
	if len(ready) == 0 {
		return tenancy.Channel{}, apperr.New(apperr.KindRejected, "This account's %s channel %s has no Twilio credentials set, so %s cannot be sent.", k, of[0].ID, what)
	}
	sort.Slice(ready, func(i, j int) bool {
		if ready[i].CreatedAt != ready[j].CreatedAt {
			return ready[i].CreatedAt < ready[j].CreatedAt
		}
		return ready[i].ID < ready[j].ID
	})
	return ready[0], nil
}

func (a *API) phoneAction(ctx context.Context, sc contacts.Scope, chs *channels, typ string, act action) (result, error) {
	kind := phoneKind(typ)
	reach, do := "text", "send"
	if kind == tenancy.Voice {
		reach, do = "call", "say"
	}
	if raw := strings.TrimSpace(string(act.To)); raw == "" || raw == "null" {
		return result{}, apperr.Invalid("number", "is required: the phone number to "+reach+", with its country code (+526643596440)")
	}
	number := str(act.To)
	if a.phone == nil {
		return result{}, fmt.Errorf("actions: no phone normaliser (start it with wiring.WithPhone)")
	}
	// No channel's default country here: the number carries its own.
	to, err := a.phone(number, "")
	if err != nil || !tenancy.E164(to) {
		return result{}, apperr.Invalidf("number", "%q is not a valid phone number: give it in E.164 form with its country code (+526643596440)", number)
	}
	if kind == tenancy.SMS && a.fixedLine != nil && a.fixedLine(to) {
		return result{}, messages.FixedLineSMS("number", to)
	}
	var text string
	if t := strings.TrimSpace(string(act.Text)); t == "" || t == "null" {
		return result{}, apperr.Invalid("text", "is required: the text to "+do)
	} else if t[0] != '"' || json.Unmarshal(act.Text, &text) != nil {
		return result{}, apperr.Invalid("text", "must be a string")
	}
	if err := messages.CheckPhoneText(string(kind), "text", text); err != nil {
		return result{}, err
	}
	list, err := chs.get()
	if err != nil {
		return result{}, err
	}
	ch, err := PickPhoneChannel(list, kind)
	if err != nil {
		return result{}, err
	}
	m := messages.Message{
		ID: tenancy.NewID("msg"), TenantID: sc.TenantID, ChannelID: ch.ID, ChannelKind: string(ch.Kind),
		Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: to,
		Status: messages.StatusQueued, CreatedAt: a.now().UnixMilli(),
	}
	if err := a.messages.CreateMessage(ctx, m); err != nil {
		return result{}, err
	}
	return result{Type: typ, Status: "success", IDMessage: m.ID, MessageStatus: string(m.Status), IDChannel: ch.ID}, nil
}
