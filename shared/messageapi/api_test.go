package messageapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Bad input gets a precise 4xx, and nothing is stored or queued.
func TestValidation(t *testing.T) {
	s, prov, ten := pipeline(t)
	long := strings.Repeat("é", 4097)
	cases := []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"no recipient", map[string]any{"type": "text", "text": map[string]any{"body": "hi"}}, 400, "to:"},
		{"both recipients", map[string]any{"to": "+923244077087", "contact_id": "1", "type": "text", "text": map[string]any{"body": "hi"}}, 400, "not both"},
		{"bad phone", map[string]any{"to": "call me", "type": "template", "template": map[string]any{"name": "x", "language": "en"}}, 400, "phone number"},
		{"no type", map[string]any{"to": "+923244077087", "text": map[string]any{"body": "hi"}}, 400, "type:"},
		{"unknown type", map[string]any{"to": "+923244077087", "type": "sticker"}, 400, "text, template or media"},
		{"type without payload", map[string]any{"to": "+923244077087", "type": "text"}, 400, "text: is required"},
		{"two payloads", map[string]any{"to": "+923244077087", "type": "text", "text": map[string]any{"body": "hi"}, "media": map[string]any{"kind": "image", "link": "https://example.com/a.png"}}, 400, "one payload"},
		{"empty body", map[string]any{"to": "+923244077087", "type": "text", "text": map[string]any{"body": "  "}}, 400, "text.body: is empty"},
		{"long body", map[string]any{"to": "+923244077087", "type": "text", "text": map[string]any{"body": long}}, 400, "4097 characters"},
		{"media link ftp", map[string]any{"to": "+923244077087", "type": "media", "media": map[string]any{"kind": "image", "link": "ftp://example.com/a.png"}}, 400, "media.link"},
		{"media link private", map[string]any{"to": "+923244077087", "type": "media", "media": map[string]any{"kind": "image", "link": "https://10.0.0.5/a.png"}}, 422, "media.link"},
		{"media kind", map[string]any{"to": "+923244077087", "type": "media", "media": map[string]any{"kind": "sticker", "link": "https://example.com/a.png"}}, 400, "media.kind"},
		{"template name", map[string]any{"to": "+923244077087", "type": "template", "template": map[string]any{"name": "Order Update", "language": "en"}}, 400, "template.name"},
		{"template language", map[string]any{"to": "+923244077087", "type": "template", "template": map[string]any{"name": "order", "language": "english"}}, 400, "template.language"},
		{"empty param", map[string]any{"to": "+923244077087", "type": "template", "template": map[string]any{"name": "order", "language": "en", "params": []string{"a", ""}}}, 400, "template.params[1]"},
		{"unknown contact", map[string]any{"contact_id": "999999999999999", "type": "template", "template": map[string]any{"name": "order", "language": "en"}}, 422, "contact_id"},
		{"unknown field", map[string]any{"to": "+923244077087", "type": "text", "text": map[string]any{"body": "hi"}, "priority": 1}, 400, "priority"},
		{"window closed", map[string]any{"to": "+923244077087", "type": "text", "text": map[string]any{"body": "hi"}}, 422, "24-hour"},
		{"window closed media", map[string]any{"to": "+923244077087", "type": "media", "media": map[string]any{"kind": "image", "link": "https://example.com/a.png"}}, 422, "24-hour"},
	}
	for _, c := range cases {
		r := s.Do("POST", "/v1/messages", bearer(ten.Token), c.body)
		msg, _ := r.JSON["message"].(string)
		if r.Status != c.status || !strings.Contains(msg, c.want) || r.JSON["status"] != "error" {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, r.Status, r.Body, c.status, c.want)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(prov.Requests()); n != 0 {
		t.Fatalf("provider got %d requests for refused input", n)
	}
}

// Free-form messages pass inside the 24-hour window and not outside it.
func TestWindow(t *testing.T) {
	s, prov, ten := pipeline(t)
	text := map[string]any{"to": "03244077087", "type": "text", "text": map[string]any{"body": "Your order shipped."}}
	if r := s.Do("POST", "/v1/messages", bearer(ten.Token), text); r.Status != 422 || !strings.Contains(string(r.Body), "24-hour") {
		t.Fatalf("outside the window: %d %s", r.Status, r.Body)
	}
	store := s.Deps.Messages()
	ctx := context.Background()
	if err := store.RecordInbound(ctx, ten.ID, ten.ChannelID, "+923244077087", s.Clock.Now().Add(-23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An older inbound message does not move the window back.
	if err := store.RecordInbound(ctx, ten.ID, ten.ChannelID, "+923244077087", s.Clock.Now().Add(-30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	id := send(t, s, ten.Token, text) // the national number, read in the channel's country (PK)
	m := waitStatus(t, s, ten.Token, id, "sent")
	if m["to"] != "+923244077087" || prov.Requests()[0].Body["to"] != "+923244077087" {
		t.Fatalf("message %v", m)
	}
	s.Clock.Add(time.Hour + time.Minute)
	if r := s.Do("POST", "/v1/messages", bearer(ten.Token), text); r.Status != 422 {
		t.Fatalf("after 24 h: %d %s", r.Status, r.Body)
	}
}

// Messages to a contact are listed newest first, a page at a time; another
// channel sees neither the list nor the message.
func TestContactMessages(t *testing.T) {
	s, _, ten := pipeline(t)
	r := s.Do("POST", "/v1/contact", bearer(ten.Token), map[string]any{"custom_fields": []map[string]any{{"name": "phone", "value": "+923244077087"}}})
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("create contact: %d %s", r.Status, r.Body)
	}
	cid := stacktest.Path(r.JSON, "data.id").(string)
	var ids []string
	for i := range 3 {
		ids = append(ids, send(t, s, ten.Token, map[string]any{"contact_id": cid, "type": "template",
			"template": map[string]any{"name": "order_update", "language": "en", "params": []string{fmt.Sprint(i)}}}))
		s.Clock.Add(time.Millisecond)
	}
	var page stacktest.Response
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		page = s.Do("GET", "/v1/contact/"+cid+"/messages?limit=2", bearer(ten.Token), nil)
		if d, _ := page.JSON["data"].([]any); page.Status == 200 && len(d) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := page.JSON["data"].([]any)
	if len(data) != 2 || stacktest.Path(data[0], "id") != ids[2] || stacktest.Path(data[1], "id") != ids[1] || stacktest.Path(data[0], "contact_id") != cid {
		t.Fatalf("first page: %d %s", page.Status, page.Body)
	}
	next, _ := stacktest.Path(page.JSON, "links.next").(string)
	i := strings.Index(next, "/v1/")
	if i < 0 {
		t.Fatalf("links.next %q", next)
	}
	page = s.Do("GET", next[i:], bearer(ten.Token), nil)
	data, _ = page.JSON["data"].([]any)
	if page.Status != 200 || len(data) != 1 || stacktest.Path(data[0], "id") != ids[0] || stacktest.Path(page.JSON, "links.next") != nil {
		t.Fatalf("second page: %d %s", page.Status, page.Body)
	}
	if r := s.Do("GET", "/v1/contact/"+cid+"/messages?cursor=bogus", bearer(ten.Token), nil); r.Status != 400 {
		t.Fatalf("bad cursor: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/contact/"+cid+"/messages?limit=101", bearer(ten.Token), nil); r.Status != 400 {
		t.Fatalf("limit 101: %d %s", r.Status, r.Body)
	}
	// Another tenant's channel: not found, empty list.
	other := s.NewTenant("Other", "whatsapp")
	if r := s.Do("GET", "/v1/messages/"+ids[0], bearer(other.Token), nil); r.Status != 404 {
		t.Fatalf("another tenant's message: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/contact/"+cid+"/messages", bearer(other.Token), nil); r.Status != 200 || len(r.JSON["data"].([]any)) != 0 {
		t.Fatalf("another tenant's list: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/messages/msg_doesnotexist", bearer(ten.Token), nil); r.Status != 404 {
		t.Fatalf("unknown message: %d %s", r.Status, r.Body)
	}
}

// Only WhatsApp, SMS and voice channels send messages.
func TestOtherChannelKinds(t *testing.T) {
	s := stacktest.New(t)
	ten := s.NewTenant("Acme", "messenger")
	r := s.Do("POST", "/v1/messages", bearer(ten.Token), template)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "WhatsApp, SMS and voice channels only") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// A message sent to a phone number belongs to the channel's contact at
// that number, the one its inbound messages go to (ID: the number's
// digits): made by the first accepted send, found by the next, listed with
// its messages. A refused send makes no contact. Seed 002's sends do the
// same.
func TestSentToPhoneIsTheContacts(t *testing.T) {
	s, _, ten := pipeline(t)
	// Refused (the window is closed): no contact is made.
	text := map[string]any{"to": "03244077090", "type": "text", "text": map[string]any{"body": "hi"}}
	if r := s.Do("POST", "/v1/messages", bearer(ten.Token), text); r.Status != 422 {
		t.Fatalf("outside the window: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/contact/923244077090", bearer(ten.Token), nil); r.Status != 404 {
		t.Fatalf("a refused send made a contact: %d %s", r.Status, r.Body)
	}
	first := send(t, s, ten.Token, template) // to +923244077087
	s.Clock.Add(time.Millisecond)
	second := send(t, s, ten.Token, map[string]any{"to": "03244077087", "type": "template",
		"template": map[string]any{"name": "order_update", "language": "en", "params": []string{"Bo"}}})
	r := s.Do("GET", "/v1/contact/923244077087", bearer(ten.Token), nil)
	if r.Status != 200 || stacktest.Path(r.JSON, "data.custom_fields.phone") != "+923244077087" {
		t.Fatalf("the number's contact: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/messages/"+first, bearer(ten.Token), nil); stacktest.Path(r.JSON, "data.contact_id") != "923244077087" {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	var page stacktest.Response
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		page = s.Do("GET", "/v1/contact/923244077087/messages", bearer(ten.Token), nil)
		if d, _ := page.JSON["data"].([]any); len(d) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := page.JSON["data"].([]any)
	if len(data) != 2 || stacktest.Path(data[0], "id") != second || stacktest.Path(data[1], "id") != first {
		t.Fatalf("the contact's messages: %d %s", page.Status, page.Body)
	}
	// Seed 002's send to another number: its contact too.
	name, lang, cat := "template_name", "en", "UTILITY"
	comps := []templates.Component{{Type: "BODY", Text: "Hello."}}
	reg := messaging.Of(s.Deps).TemplateRegistry()
	if _, err := reg.Create(t.Context(), ten.ID, ten.ChannelID, templates.Input{Name: &name, Language: &lang, Category: &cat, Components: &comps}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(t.Context(), ten.ID, ten.ChannelID, name, lang, templates.StatusApproved, ""); err != nil {
		t.Fatal(err)
	}
	r = s.Do("POST", "/sendTemplate?token="+ten.Token, "", map[string]any{"phone": "79995253422", "template": "template_name",
		"language": map[string]any{"code": "en", "policy": "deterministic"}})
	if r.Status != 200 {
		t.Fatalf("sendTemplate: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON["id"].(string)
	if r := s.Do("GET", "/v1/messages/"+id, bearer(ten.Token), nil); stacktest.Path(r.JSON, "data.contact_id") != "79995253422" {
		t.Fatalf("seed 002's message: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/contact/79995253422", bearer(ten.Token), nil); r.Status != 200 || stacktest.Path(r.JSON, "data.custom_fields.phone") != "+79995253422" {
		t.Fatalf("seed 002's contact: %d %s", r.Status, r.Body)
	}
}

// GET /v1/messages lists the channel's messages, both directions, newest
// first, a page at a time; another channel of the same tenant and another
// tenant see none of them; a bad limit or cursor is a 400.
func TestChannelMessages(t *testing.T) {
	s, _, ten := pipeline(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		ids = append(ids, send(t, s, ten.Token, map[string]any{"to": "+92324407708" + fmt.Sprint(i), "type": "template",
			"template": map[string]any{"name": "order_update", "language": "en", "params": []string{fmt.Sprint(i)}}}))
		s.Clock.Add(time.Millisecond)
	}
	// An inbound message, newest of all, on the channel.
	in := messages.Message{ID: "msg_inboundlist", TenantID: ten.ID, ChannelID: ten.ChannelID, ChannelKind: "whatsapp", Direction: messages.Inbound,
		Type: messages.TypeText, Text: &messages.Text{Body: "hello"}, Status: messages.StatusReceived, CreatedAt: s.Clock.Now().Add(time.Second).UnixMilli()}
	if err := s.Deps.Messages().CreateMessage(ctx, in); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, in.ID)
	// A message of the tenant's other channel.
	r := s.Admin("POST", "/admin/tenants/"+ten.ID+"/channels", map[string]any{"kind": "whatsapp", "name": "B", "default_country": "PK"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create channel: %d %s", r.Status, r.Body)
	}
	chB := stacktest.Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+ten.ID+"/channels/"+chB+"/tokens", map[string]any{"name": "b"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	authB := bearer(stacktest.Path(r.JSON, "data.token").(string))
	mb := messages.Message{ID: "msg_otherchannel", TenantID: ten.ID, ChannelID: chB, ChannelKind: "whatsapp", Direction: messages.Inbound,
		Type: messages.TypeText, Text: &messages.Text{Body: "hi B"}, Status: messages.StatusReceived, CreatedAt: s.Clock.Now().Add(2 * time.Second).UnixMilli()}
	if err := s.Deps.Messages().CreateMessage(ctx, mb); err != nil {
		t.Fatal(err)
	}

	var page stacktest.Response
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		page = s.Do("GET", "/v1/messages?limit=3", bearer(ten.Token), nil)
		if d, _ := page.JSON["data"].([]any); page.Status == 200 && len(d) == 3 && stacktest.Path(d[0], "id") == ids[3] {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := page.JSON["data"].([]any)
	if len(data) != 3 || stacktest.Path(data[0], "id") != ids[3] || stacktest.Path(data[1], "id") != ids[2] || stacktest.Path(data[2], "id") != ids[1] {
		t.Fatalf("first page: %d %s", page.Status, page.Body)
	}
	if stacktest.Path(data[0], "direction") != "inbound" || stacktest.Path(data[0], "status") != "received" ||
		stacktest.Path(data[1], "direction") != "outbound" || stacktest.Path(data[1], "type") != "template" ||
		stacktest.Path(data[1], "contact_id") != "923244077082" || stacktest.Path(data[1], "created_at") == nil {
		t.Fatalf("first page fields: %s", page.Body)
	}
	next, _ := stacktest.Path(page.JSON, "links.next").(string)
	i := strings.Index(next, "/v1/")
	if i < 0 {
		t.Fatalf("links.next %q", next)
	}
	page = s.Do("GET", next[i:], bearer(ten.Token), nil)
	data, _ = page.JSON["data"].([]any)
	if page.Status != 200 || len(data) != 1 || stacktest.Path(data[0], "id") != ids[0] || stacktest.Path(page.JSON, "links.next") != nil {
		t.Fatalf("second page: %d %s", page.Status, page.Body)
	}
	// The default page holds all four; the other channel sees only its own.
	if r := s.Do("GET", "/v1/messages", bearer(ten.Token), nil); r.Status != 200 || len(r.JSON["data"].([]any)) != 4 {
		t.Fatalf("default page: %d %s", r.Status, r.Body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		r = s.Do("GET", "/v1/messages", authB, nil)
		if d, _ := r.JSON["data"].([]any); r.Status == 200 && len(d) == 1 && stacktest.Path(d[0], "id") == mb.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other channel's list: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	other := s.NewTenant("Other", "whatsapp")
	if r := s.Do("GET", "/v1/messages", bearer(other.Token), nil); r.Status != 200 || len(r.JSON["data"].([]any)) != 0 {
		t.Fatalf("another tenant's list: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=bogus", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x#y"))} {
		if r := s.Do("GET", "/v1/messages?"+q, bearer(ten.Token), nil); r.Status != 400 || r.JSON["status"] != "error" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}
