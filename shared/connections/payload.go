package connections

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/contacts"
)

// Channel is what a payload says about the channel (page).
type Channel struct {
	ID   string
	Name string
	// InstanceID is a WhatsApp channel's instance id (seed 002's chat-api
	// webhook payloads name it); 0 for other channels.
	InstanceID int64
}

// Payload builds the flat JSON object a connection sends for a contact, in
// the seed's shape: every value a string, subscribed_at as
// "YYYY-MM-DD HH:MM:SS" (UTC), labels comma-joined, custom fields by name.
// Only the connection's fields are sent; an empty list sends them all.
func Payload(c contacts.Contact, ch Channel, defs []contacts.Field, fields []string) []byte {
	all := map[string]string{
		"psid":            c.ID,
		"first_name":      c.Fields["firstName"],
		"last_name":       c.Fields["lastName"],
		"subscribed_at":   time.Unix(c.CreatedAt, 0).UTC().Format("2006-01-02 15:04:05"),
		"email":           c.Fields["email"],
		"labels":          strings.Join(c.Tags, ","),
		"page_id":         ch.ID,
		"page_name":       ch.Name,
		"phone_number":    c.Fields["phone"],
		"user_location":   c.Fields["location"],
		"postbackid":      "",
		"subscriber_id":   c.ID,
		"webview_form_id": "",
	}
	if e := c.LastEvent; e != nil {
		all["postbackid"], all["webview_form_id"] = e.PostbackID, e.WebviewFormID
	}
	order := append([]string(nil), PayloadFields...)
	for _, d := range defs {
		all[d.Name] = c.Custom[d.ID]
		order = append(order, d.Name)
	}
	if len(fields) > 0 {
		order = fields
	}
	// An object with keys in a stable order (the seed's, then custom).
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(all[k])
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Fired lists the triggers a contact write fires: a trigger field that
// became set or changed, or a newly collected event. old is nil for a new
// contact.
func Fired(old *contacts.Contact, cur contacts.Contact) []Trigger {
	var out []Trigger
	changed := func(field string) bool {
		v := cur.Fields[field]
		return v != "" && (old == nil || old.Fields[field] != v)
	}
	if changed("email") {
		out = append(out, TriggerEmail)
	}
	if changed("phone") {
		out = append(out, TriggerPhone)
	}
	if changed("birthday") {
		out = append(out, TriggerBirthday)
	}
	e := cur.LastEvent
	newEvent := e != nil && (old == nil || old.LastEvent == nil || old.LastEvent.Seq != e.Seq)
	if changed("location") || (newEvent && e.Kind == contacts.EventLocation) {
		out = append(out, TriggerLocation)
	}
	if newEvent && e.Kind == contacts.EventPostback {
		out = append(out, TriggerPostback)
	}
	if newEvent && e.Kind == contacts.EventWebviewForm {
		out = append(out, TriggerWebviewForm)
	}
	return out
}
