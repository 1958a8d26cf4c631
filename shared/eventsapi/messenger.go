package eventsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Messenger Platform webhooks for a channel: the GET verification handshake
// and the signed POSTs that carry postbacks, email and phone quick replies
// and locations. They are public routes (Messenger holds no token); the
// channel's verify token and app secret authenticate them.

type messengerReceiver struct {
	ten   tenancy.Store
	inbox messenger.Inbox
	now   func() time.Time
}

func newMessenger(p Ports) *messengerReceiver {
	return &messengerReceiver{ten: p.TenancyStore(), inbox: p.MessengerInbox(), now: p.Clock()}
}

// receive checks X-Hub-Signature-256 over the raw body and that it is a
// JSON webhook call, stores it as one inbox item and answers: the events
// are recorded afterwards by the Messenger intake (shared/messenger), from
// the data table's stream, so the answer's time does not grow with the
// number of events. Messenger retries on a non-2xx answer, so a store
// failure is a 500; the intake drops the events it already recorded.
func (m *messengerReceiver) receive(w http.ResponseWriter, r *http.Request) error {
	ch, err := MessengerChannel(r, m.ten)
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
	var in messenger.Body
	if err := httpapi.Unmarshal(body, &in, false); err != nil {
		return err
	}
	if len(in.Items()) > 0 {
		err := m.inbox.PutInbox(r.Context(), messenger.InboxItem{TenantID: ch.TenantID, ChannelID: ch.ID,
			DefaultCountry: ch.DefaultCountry, ReceivedAt: m.now(), Body: body})
		if err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, MessengerAck{Status: "success"})
	return nil
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
