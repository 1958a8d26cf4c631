package eventsapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Messenger Platform webhooks for a channel: the GET verification handshake
// and the signed POSTs that carry postbacks, email and phone quick replies
// and locations. They are public routes (Messenger holds no token); the
// channel's verify token and app secret authenticate them.

type messenger struct {
	svc *contacts.Service
	ten tenancy.Store
}

func newMessenger(p Ports) *messenger {
	return &messenger{svc: newAPI(p).svc, ten: p.TenancyStore()}
}

func (m *messenger) channel(r *http.Request) (tenancy.Channel, error) {
	return MessengerChannel(r, m.ten)
}

// messengerBody is the part of a Messenger webhook call we read.
type messengerBody struct {
	Object string `json:"object"`
	Entry  []struct {
		Messaging []messagingEvent `json:"messaging"`
	} `json:"entry"`
}

type messagingEvent struct {
	Sender    struct{ ID string } `json:"sender"`
	Timestamp int64               `json:"timestamp"`
	Postback  *struct {
		Payload string `json:"payload"`
	} `json:"postback"`
	Message *struct {
		QuickReply *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload struct {
				Coordinates *struct {
					Lat  float64 `json:"lat"`
					Long float64 `json:"long"`
				} `json:"coordinates"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
}

// receive checks X-Hub-Signature-256 over the raw body, then records each
// messaging event as collected data. Messenger retries on a non-2xx answer,
// so a store failure is a 500 and bad data is logged and acknowledged.
func (m *messenger) receive(w http.ResponseWriter, r *http.Request) error {
	ch, err := m.channel(r)
	if err != nil {
		return err
	}
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	if !validHubSignature(ch.AppSecret, r.Header.Get("X-Hub-Signature-256"), body) {
		return apperr.Forbidden("X-Hub-Signature-256 does not match the channel's app secret.")
	}
	var in messengerBody
	if err := httpapi.Unmarshal(body, &in, false); err != nil {
		return err
	}
	sc := contacts.Scope{TenantID: ch.TenantID, ChannelID: ch.ID, DefaultCountry: ch.DefaultCountry}
	for _, e := range in.Entry {
		for _, ev := range e.Messaging {
			for _, c := range ev.collected() {
				if err := m.collect(r.Context(), sc, ev.Sender.ID, c); err != nil {
					return err
				}
			}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, MessengerAck{Status: "success"})
	return nil
}

func (m *messenger) collect(ctx context.Context, sc contacts.Scope, psid string, c contacts.Collected) error {
	_, err := m.svc.Collect(ctx, sc, psid, c)
	if apperr.Is(err, apperr.KindInvalid) || apperr.Is(err, apperr.KindTooLarge) {
		// Messenger would send it again and again: nothing to retry.
		slog.WarnContext(ctx, "messenger event not recorded", "psid", psid, "err", err)
		return nil
	}
	return err
}

// collected turns one messaging event into what the bot collected.
func (ev messagingEvent) collected() []contacts.Collected {
	var out []contacts.Collected
	if ev.Postback != nil && ev.Postback.Payload != "" {
		out = append(out, contacts.Collected{PostbackID: ev.Postback.Payload})
	}
	msg := ev.Message
	if msg == nil {
		return out
	}
	if qr := msg.QuickReply; qr != nil && qr.Payload != "" {
		// The user_email and user_phone_number quick replies carry the
		// address or number itself as their payload.
		p := strings.TrimSpace(qr.Payload)
		value, _ := json.Marshal(p)
		if a, err := mail.ParseAddress(p); err == nil && a.Address == p {
			out = append(out, contacts.Collected{Field: "email", Value: value})
		} else if strings.Trim(p, "+0123456789 -()") == "" && strings.ContainsAny(p, "0123456789") {
			out = append(out, contacts.Collected{Field: "phone", Value: value})
		} else {
			out = append(out, contacts.Collected{PostbackID: p})
		}
	}
	for _, a := range msg.Attachments {
		if a.Type == "location" && a.Payload.Coordinates != nil {
			out = append(out, contacts.Collected{Location: fmt.Sprintf("%g,%g", a.Payload.Coordinates.Lat, a.Payload.Coordinates.Long)})
		}
	}
	return out
}

// validHubSignature checks "sha256=<hex HMAC-SHA256(app secret, body)>".
func validHubSignature(secret, header string, body []byte) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
