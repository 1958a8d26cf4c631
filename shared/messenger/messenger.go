// Package messenger is Messenger Platform intake: what a webhook call
// carries, the inbox item the receiving function stores it as (one durable
// write, then the answer), and the intake, the data table stream's consumer
// that turns each inbox item's events into collected contact data.
//
// Every event is recorded once: its key (Messenger's message ID, or the
// sender, timestamp and kind) is written as a mark on the operations table
// in the same transaction as the contact, so a replayed stream record or a
// call Meta sends again changes nothing and fires no trigger twice.
package messenger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/contacts"
)

// Body is the part of a Messenger webhook call that is read.
type Body struct {
	Object string `json:"object"`
	Entry  []struct {
		Messaging []Event `json:"messaging"`
	} `json:"entry"`
}

// Event is one messaging event of a webhook call.
type Event struct {
	Sender    struct{ ID string } `json:"sender"`
	Timestamp int64               `json:"timestamp"`
	Postback  *struct {
		MID     string `json:"mid"`
		Payload string `json:"payload"`
	} `json:"postback"`
	Message *struct {
		MID        string `json:"mid"`
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

// Item is one thing an event collected, with the key that makes recording
// it idempotent.
type Item struct {
	PSID      string
	Key       string
	Collected contacts.Collected
}

// Items lists what the events of a webhook call collected, in order.
func (b Body) Items() []Item {
	var out []Item
	for _, e := range b.Entry {
		for _, ev := range e.Messaging {
			out = append(out, ev.Items()...)
		}
	}
	return out
}

// Items turns one messaging event into what the bot collected. Each item's
// key is Messenger's message ID (mid) when the event has one, else the
// sender, the timestamp and the kind with its payload; an event that
// collects several things numbers them.
func (ev Event) Items() []Item {
	var cs []contacts.Collected
	var kinds []string
	add := func(kind string, c contacts.Collected) {
		cs = append(cs, c)
		kinds = append(kinds, kind)
	}
	if ev.Postback != nil && ev.Postback.Payload != "" {
		add("postback:"+ev.Postback.Payload, contacts.Collected{PostbackID: ev.Postback.Payload})
	}
	if msg := ev.Message; msg != nil {
		if qr := msg.QuickReply; qr != nil && qr.Payload != "" {
			// The user_email and user_phone_number quick replies carry the
			// address or number itself as their payload.
			p := strings.TrimSpace(qr.Payload)
			value, _ := json.Marshal(p)
			if a, err := mail.ParseAddress(p); err == nil && a.Address == p {
				add("email:"+p, contacts.Collected{Field: "email", Value: value})
			} else if strings.Trim(p, "+0123456789 -()") == "" && strings.ContainsAny(p, "0123456789") {
				add("phone:"+p, contacts.Collected{Field: "phone", Value: value})
			} else {
				add("quick_reply:"+p, contacts.Collected{PostbackID: p})
			}
		}
		for _, a := range msg.Attachments {
			if a.Type == "location" && a.Payload.Coordinates != nil {
				loc := fmt.Sprintf("%g,%g", a.Payload.Coordinates.Lat, a.Payload.Coordinates.Long)
				add("location:"+loc, contacts.Collected{Location: loc})
			}
		}
	}
	out := make([]Item, len(cs))
	for i, c := range cs {
		out[i] = Item{PSID: ev.Sender.ID, Key: ev.key(i, kinds[i]), Collected: c}
	}
	return out
}

// key is the dedupe key of the i-th thing the event collected.
func (ev Event) key(i int, kind string) string {
	var id string
	switch {
	case ev.Message != nil && ev.Message.MID != "":
		id = "mid\x00" + ev.Message.MID + "\x00" + strconv.Itoa(i)
	case ev.Postback != nil && ev.Postback.MID != "" && i == 0:
		id = "mid\x00" + ev.Postback.MID
	default:
		id = "evt\x00" + ev.Sender.ID + "\x00" + strconv.FormatInt(ev.Timestamp, 10) + "\x00" + kind
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// InboxTTL is how long an inbox item is kept: the intake reads it from the
// stream within seconds; the table keeps it a while for inspection.
const InboxTTL = 7 * 24 * time.Hour

// DedupeTTL is how long an event's key is remembered: Meta retries a
// delivery for well under a day.
const DedupeTTL = 24 * time.Hour

// InboxItem is one verified webhook call, as it was received.
type InboxItem struct {
	TenantID       string
	ChannelID      string
	DefaultCountry string
	ReceivedAt     time.Time
	Body           []byte
}

// Inbox keeps verified webhook calls for the intake.
type Inbox interface {
	// PutInbox stores one call: a single write, whose stream record starts
	// the intake.
	PutInbox(ctx context.Context, it InboxItem) error
}
