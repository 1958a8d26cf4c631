package wahook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function.

// WhatsappVerify builds the handler of function whatsapp-verify.
func WhatsappVerify(p Ports) http.Handler { return httpapi.HandlerFunc(newReceiver(p).verify) }

// WhatsappReceive builds the handler of function whatsapp-receive.
func WhatsappReceive(p Ports) http.Handler { return httpapi.HandlerFunc(newReceiver(p).receive) }

// Lookup finds the channels a webhook call is for (tenancy.WhatsAppStore's
// reads of the pointer items: no tenant's settings are read).
type Lookup interface {
	WhatsAppByPhone(ctx context.Context, phoneNumberID string) (tenancy.WhatsAppRoute, error)
	WhatsAppByWABA(ctx context.Context, wabaID string) ([]tenancy.WhatsAppRoute, error)
	WhatsAppVerifyToken(ctx context.Context, hash string) (bool, error)
}

// InboxItem is one verified webhook call as stored for one channel.
type InboxItem struct {
	TenantID, ChannelID, DefaultCountry string
	// PhoneNumberID and WABAID say which of the call's changes are the
	// channel's: "messages" changes about its phone number id, template
	// status changes of its WABA.
	PhoneNumberID, WABAID string
	ReceivedAt            time.Time
	Body                  []byte
}

// Inbox keeps verified webhook calls for the intake.
type Inbox interface {
	// PutInbox stores one call for one channel: a single write, whose
	// stream record starts the intake.
	PutInbox(ctx context.Context, it InboxItem) error
}

// Ports are what the webhook handlers need; shared/wiring provides them.
type Ports interface {
	WhatsAppLookup() Lookup
	WhatsAppInbox() Inbox
	Clock() func() time.Time
}

type receiver struct {
	lookup Lookup
	inbox  Inbox
	now    func() time.Time
}

func newReceiver(p Ports) *receiver {
	return &receiver{lookup: p.WhatsAppLookup(), inbox: p.WhatsAppInbox(), now: p.Clock()}
}

// MaxIDsPerCall bounds the distinct phone number ids and WABA ids one call
// may name (Meta's name one WABA's number or few).
const MaxIDsPerCall = 50

// Ack is the answer to a webhook call.
type Ack struct {
	Status string `json:"status"`
}

// verify answers Meta's subscription handshake: hub.mode subscribe and a
// hub.verify_token that some WhatsApp channel was given. The token is
// looked up by its hash, so no comparison leaks it by its timing. The
// challenge is echoed as plain text with nosniff.
func (rc *receiver) verify(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	ok := false
	if q.Get("hub.mode") == "subscribe" && token != "" && len(token) <= 200 {
		var err error
		if ok, err = rc.lookup.WhatsAppVerifyToken(r.Context(), tenancy.Hash(token)); err != nil {
			return err
		}
	}
	if !ok {
		return apperr.Forbidden("hub.mode must be subscribe and hub.verify_token a WhatsApp channel's verify token.")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(q.Get("hub.challenge")))
	return nil
}

// receive checks a call and stores it for the intake, one inbox item per
// channel it names, then answers 200: the time of the answer does not grow
// with the number of messages (they are recorded from the table's
// stream). The call names its channels by the phone number id of each
// "messages" change (metadata.phone_number_id) and the WABA id of each
// template status change (entry[].id); X-Hub-Signature-256 must match
// the app secret of every channel it names, or nothing is stored and the
// answer is a 403. A call that names no channel of ours (a number not set
// on any channel, a field we do not read) is answered 200 and dropped:
// Meta retries any other answer for days and then disables the app's
// webhook, which would stop every other number of the app too.
func (rc *receiver) receive(w http.ResponseWriter, r *http.Request) error {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	sig, hasSig := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	mac, err := hex.DecodeString(sig)
	if !hasSig || err != nil || len(mac) != sha256.Size {
		return apperr.Forbidden("X-Hub-Signature-256 is missing or is not sha256=<hex HMAC-SHA256 of the body>.")
	}
	// Plain JSON rules, not the API's stricter ones (no NUL in strings):
	// a contact's message is Meta's text, and a call refused here would be
	// retried for days.
	var in Body
	if err := json.Unmarshal(body, &in); err != nil {
		return apperr.BadRequest("The body is not a WhatsApp webhook call: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	ctx := r.Context()
	phones, wabas := in.PhoneNumberIDs()
	// Each id is a read before the signature can be checked: an unsigned
	// call must not make thousands.
	if len(phones)+len(wabas) > MaxIDsPerCall {
		return apperr.BadRequest("A call may name at most %d phone number and WABA ids.", MaxIDsPerCall)
	}
	type target struct {
		route       tenancy.WhatsAppRoute
		phone, waba string
	}
	var order []string
	targets := map[string]*target{}
	add := func(rt tenancy.WhatsAppRoute, phone, waba string) {
		k := rt.TenantID + "#" + rt.ChannelID
		t, ok := targets[k]
		if !ok {
			t = &target{route: rt}
			targets[k] = t
			order = append(order, k)
		}
		if phone != "" {
			t.phone = phone
		}
		if waba != "" {
			t.waba = waba
		}
	}
	var unknown []string
	for _, id := range phones {
		rt, err := rc.lookup.WhatsAppByPhone(ctx, id)
		switch {
		case apperr.Is(err, apperr.KindNotFound):
			unknown = append(unknown, id)
		case err != nil:
			return err
		default:
			add(rt, id, "")
		}
	}
	for _, id := range wabas {
		rts, err := rc.lookup.WhatsAppByWABA(ctx, id)
		if err != nil {
			return err
		}
		if len(rts) == 0 {
			unknown = append(unknown, "waba:"+id)
		}
		for _, rt := range rts {
			add(rt, "", id)
		}
	}
	if len(unknown) > 0 {
		slog.WarnContext(ctx, "whatsapp webhook: ids of no channel ignored", "ids", unknown)
	}
	// Every channel named must have signed it: check them all before
	// storing anything.
	for _, k := range order {
		if !validMAC(targets[k].route.AppSecret.Reveal(), mac, body) {
			return apperr.Forbidden("X-Hub-Signature-256 does not match the app secret of the channel the call is for.")
		}
	}
	now := rc.now()
	for _, k := range order {
		t := targets[k]
		err := rc.inbox.PutInbox(ctx, InboxItem{TenantID: t.route.TenantID, ChannelID: t.route.ChannelID, DefaultCountry: t.route.DefaultCountry,
			PhoneNumberID: t.phone, WABAID: t.waba, ReceivedAt: now, Body: body})
		if err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, Ack{Status: "success"})
	return nil
}

// validMAC compares HMAC-SHA256(secret, body) with mac in constant time.
func validMAC(secret string, mac, body []byte) bool {
	if secret == "" {
		return false
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return hmac.Equal(mac, h.Sum(nil))
}
