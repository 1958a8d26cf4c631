package automations

import (
	"context"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/templates"
)

func valid() Automation {
	return Automation{
		Name: "Welcome",
		Nodes: []Node{
			{Type: NodeSendMessage, ChannelID: "ch_wa", Template: &TemplateRef{Name: "template_name", Language: "en", Params: []string{"Ana"}}},
			{Type: NodeWait, Seconds: 60},
			{Type: NodeAddTag, Tag: " welcomed "},
			{ID: "check", Type: NodeCondition, Field: "email", Op: OpIsSet, Then: "n5", Else: "bye"},
			{Type: NodeSetField, Field: "firstName", Value: "Ana"},
			{ID: "bye", Type: NodeSendMessage, ChannelID: "ch_sms", Text: "Bye"},
			{Type: NodeWait, Until: "09:30"},
			{Type: NodeRemoveTag, Tag: "new"},
			{Type: NodeCallConnection, ConnectionID: "conn_crm"},
			{Type: NodeSetField, Field: "7", Value: "42"},
		},
		Triggers: []Trigger{{Field: "email"}, {Field: "phone", ChannelID: "ch_wa"}},
	}
}

func TestValidateFillsDefaults(t *testing.T) {
	a := valid()
	a.Name = "  Welcome  "
	if err := Validate(&a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "Welcome" || a.Nodes[0].ID != "n1" || a.Nodes[3].ID != "check" || a.Nodes[4].ID != "n5" || a.Nodes[2].Tag != "welcomed" {
		t.Fatalf("defaults not filled: %+v", a)
	}
	d := Automation{Name: "Draft"}
	if err := Validate(&d); err != nil || d.Nodes == nil || d.Triggers == nil {
		t.Fatalf("an empty automation (a draft): %v %+v", err, d)
	}
}

// TestValidateRules: every rule refuses its input with a 400 naming the
// node and its field.
func TestValidateRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name   string
		change func(a *Automation)
		want   string
	}{
		{"no name", func(a *Automation) { a.Name = "  " }, "name: is required."},
		{"long name", func(a *Automation) { a.Name = long(129) }, "name: is 129 characters long; at most 128."},
		{"too many nodes", func(a *Automation) { a.Nodes = make([]Node, MaxNodes+1) }, "nodes: has 51 nodes; an automation has at most 50."},
		{"bad node id", func(a *Automation) { a.Nodes[1].ID = "a b" }, `nodes[1]: id "a b" must be 1 to 32 letters, digits, '_' and '-'.`},
		{"long node id", func(a *Automation) { a.Nodes[1].ID = long(33) }, `nodes[1]: id "` + long(33) + `" must be 1 to 32 letters, digits, '_' and '-'.`},
		{"duplicate id", func(a *Automation) { a.Nodes[1].ID = "n1" }, "nodes[1] (n1): id is also nodes[0]'s ID: node IDs are unique (a node without one is named n<position>)."},
		{"default id taken", func(a *Automation) { a.Nodes[0].ID = "n2" }, "nodes[1] (n2): id is also nodes[0]'s ID: node IDs are unique (a node without one is named n<position>)."},
		{"no type", func(a *Automation) { a.Nodes[1].Type = "" }, "nodes[1] (n2): type is required: one of send_message, wait, add_tag, remove_tag, set_field, call_connection, condition."},
		{"unknown type", func(a *Automation) { a.Nodes[1].Type = "sleep" }, `nodes[1] (n2): type must be one of send_message, wait, add_tag, remove_tag, set_field, call_connection, condition, not "sleep".`},

		{"send: no channel", func(a *Automation) { a.Nodes[0].ChannelID = "" }, "nodes[0] (n1): channel_id is required (the channel the message is sent on)."},
		{"send: bad channel", func(a *Automation) { a.Nodes[0].ChannelID = "wa" }, `nodes[0] (n1): channel_id "wa" is not a channel ID (ch_ and 1 to 64 lower-case letters and digits).`},
		{"send: nothing", func(a *Automation) { a.Nodes[0].Template = nil }, "nodes[0] (n1): text or template is required (a send_message node sends one of them)."},
		{"send: both", func(a *Automation) { a.Nodes[0].Text = "hi" }, "nodes[0] (n1): text and template are both set: give one of them."},
		{"send: blank text", func(a *Automation) { a.Nodes[5].Text = "  " }, "nodes[5] (bye): text is blank."},
		{"send: long text", func(a *Automation) { a.Nodes[5].Text = long(4097) }, "nodes[5] (bye): text is 4097 characters long; at most 4096."},
		{"send: no template name", func(a *Automation) { a.Nodes[0].Template.Name = "" }, "nodes[0] (n1): template.name is required."},
		{"send: no template language", func(a *Automation) { a.Nodes[0].Template.Language = "" }, "nodes[0] (n1): template.language is required (a language code such as en or en_US)."},
		{"send: bad template name", func(a *Automation) { a.Nodes[0].Template.Name = "Bad Name" }, "nodes[0] (n1): template.name must be 1 to 512 lower-case letters, digits and underscores, as the template was registered."},
		{"send: bad language", func(a *Automation) { a.Nodes[0].Template.Language = "english" }, `nodes[0] (n1): template.language "english" is not a language code such as en or en_US.`},
		{"send: empty param", func(a *Automation) { a.Nodes[0].Template.Params = []string{" "} }, "nodes[0] (n1): template.params[0] is empty (parameter {{1}})."},
		{"send: foreign field", func(a *Automation) { a.Nodes[0].Tag = "x" }, "nodes[0] (n1): tag is not a field of a send_message node (it takes channel_id, text, template)."},

		{"wait: nothing", func(a *Automation) { a.Nodes[1].Seconds = 0 }, `nodes[1] (n2): seconds or until is required (a duration, or a time of day "HH:MM").`},
		{"wait: both", func(a *Automation) { a.Nodes[1].Until = "10:00" }, "nodes[1] (n2): seconds and until are both set: give one of them."},
		{"wait: negative", func(a *Automation) { a.Nodes[1].Seconds = -5 }, "nodes[1] (n2): seconds must be 1 to 2592000 (30 days), not -5."},
		{"wait: over 30 days", func(a *Automation) { a.Nodes[1].Seconds = MaxWaitSeconds + 1 }, "nodes[1] (n2): seconds must be 1 to 2592000 (30 days), not 2592001."},
		{"wait: bad until", func(a *Automation) { a.Nodes[6].Until = "24:00" }, `nodes[6] (n7): until "24:00" is not a time of day as HH:MM (00:00 to 23:59).`},
		{"wait: until no colon", func(a *Automation) { a.Nodes[6].Until = "9:30" }, `nodes[6] (n7): until "9:30" is not a time of day as HH:MM (00:00 to 23:59).`},
		{"wait: foreign field", func(a *Automation) { a.Nodes[1].ChannelID = "ch_wa" }, "nodes[1] (n2): channel_id is not a field of a wait node (it takes seconds, until)."},

		{"tag: empty", func(a *Automation) { a.Nodes[2].Tag = " " }, "nodes[2] (n3): tag must be 1 to 100 characters."},
		{"tag: long", func(a *Automation) { a.Nodes[7].Tag = long(101) }, "nodes[7] (n8): tag must be 1 to 100 characters."},
		{"tag: foreign field", func(a *Automation) { a.Nodes[2].Value = "x" }, "nodes[2] (n3): value is not a field of a add_tag node (it takes tag)."},

		{"set: no field", func(a *Automation) { a.Nodes[4].Field = "" }, "nodes[4] (n5): field is required: a standard field's name or a custom field's ID."},
		{"set: unknown field", func(a *Automation) { a.Nodes[4].Field = "shoe" }, `nodes[4] (n5): field "shoe" is neither a standard field (firstName, lastName, profilePic, language, phone, email, locale, timezone, gender, birthday, location) nor a custom field's ID (digits).`},
		{"set: platform field", func(a *Automation) { a.Nodes[4].Field = "locale" }, "nodes[4] (n5): field locale is set by the messaging platform; set_field sets firstName, lastName, profilePic, language, phone, email or a custom field."},
		{"set: long value", func(a *Automation) { a.Nodes[4].Value = long(1025) }, "nodes[4] (n5): value is 1025 characters long; at most 1024."},
		{"set: foreign field", func(a *Automation) { a.Nodes[4].Op = OpEquals }, "nodes[4] (n5): op is not a field of a set_field node (it takes field, value)."},

		{"connection: none", func(a *Automation) { a.Nodes[8].ConnectionID = "" }, "nodes[8] (n9): connection_id is required."},
		{"connection: bad", func(a *Automation) { a.Nodes[8].ConnectionID = "crm" }, `nodes[8] (n9): connection_id "crm" is not a connection ID (conn_ and 1 to 64 lower-case letters and digits).`},

		{"condition: no op", func(a *Automation) { a.Nodes[3].Op = "" }, "nodes[3] (check): op is required: one of equals, not_equals, contains, is_set, is_not_set."},
		{"condition: bad op", func(a *Automation) { a.Nodes[3].Op = "like" }, `nodes[3] (check): op must be one of equals, not_equals, contains, is_set, is_not_set, not "like".`},
		{"condition: no value", func(a *Automation) { a.Nodes[3].Op = OpEquals }, "nodes[3] (check): value is required for op equals."},
		{"condition: value unused", func(a *Automation) { a.Nodes[3].Value = "x" }, "nodes[3] (check): value is not used by op is_set: leave it out."},
		{"condition: unknown then", func(a *Automation) { a.Nodes[3].Then = "n42" }, `nodes[3] (check): then names node "n42", which this automation does not have.`},
		{"condition: unknown else", func(a *Automation) { a.Nodes[3].Else = "end" }, `nodes[3] (check): else names node "end", which this automation does not have.`},
		{"condition: any standard field", func(a *Automation) { a.Nodes[3].Field = "nope" }, `nodes[3] (check): field "nope" is neither a standard field (firstName, lastName, profilePic, language, phone, email, locale, timezone, gender, birthday, location) nor a custom field's ID (digits).`},
		{"condition: foreign field", func(a *Automation) { a.Nodes[3].Seconds = 5 }, "nodes[3] (check): seconds is not a field of a condition node (it takes field, op, value, then, else)."},

		{"trigger: no field", func(a *Automation) { a.Triggers[0].Field = "" }, "triggers[0].field: is required: one of email, phone, location, postback, birthday, webview_form."},
		{"trigger: unknown", func(a *Automation) { a.Triggers[0].Field = "name" }, `triggers[0].field: must be one of email, phone, location, postback, birthday, webview_form, not "name".`},
		{"trigger: bad channel", func(a *Automation) { a.Triggers[1].ChannelID = "x" }, `triggers[1].channel_id: "x" is not a channel ID (ch_ and 1 to 64 lower-case letters and digits).`},
		{"trigger: twice", func(a *Automation) { a.Triggers[1] = a.Triggers[0] }, "triggers[1]: is the same as triggers[0]."},
		{"too many triggers", func(a *Automation) { a.Triggers = make([]Trigger, MaxTriggers+1) }, "triggers: has 21 triggers; at most 20."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := valid()
			c.change(&a)
			err := Validate(&a)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Message != c.want {
				t.Fatalf("got %v\nwant (400) %s", err, c.want)
			}
		})
	}
	a := valid()
	if err := Validate(&a); err != nil {
		t.Fatalf("the valid automation: %v", err)
	}
}

// memRefs is a tenant's channels, templates, connections and fields in
// memory.
type memRefs struct {
	channels    map[string]string
	templates   map[string]templates.Template // channel/name/language
	connections map[string]bool
	fields      []contacts.Field
	reads       int
}

func (m *memRefs) ChannelKind(_ context.Context, _, id string) (string, error) {
	m.reads++
	if k, ok := m.channels[id]; ok {
		return k, nil
	}
	return "", apperr.NotFound("Channel", id)
}

func (m *memRefs) FindTemplate(_ context.Context, _, ch, name, lang string) (templates.Template, error) {
	if t, ok := m.templates[ch+"/"+name+"/"+lang]; ok {
		return t, nil
	}
	return templates.Template{}, apperr.NotFound("Template", name)
}

func (m *memRefs) CheckConnection(_ context.Context, _, id string) error {
	if m.connections[id] {
		return nil
	}
	return apperr.NotFound("Connection", id)
}

func (m *memRefs) CustomFields(context.Context, string) ([]contacts.Field, error) {
	return m.fields, nil
}

func refs() *memRefs {
	return &memRefs{
		channels: map[string]string{"ch_wa": "whatsapp", "ch_sms": "sms", "ch_voice": "voice", "ch_fb": "messenger"},
		templates: map[string]templates.Template{
			"ch_wa/template_name/en": {Name: "template_name", Language: "en", Status: templates.StatusApproved,
				Components: []templates.Component{{Type: "BODY", Text: "Hello {{1}}"}}},
			"ch_wa/pending/en": {Name: "pending", Language: "en", Status: templates.StatusPending,
				Components: []templates.Component{{Type: "BODY", Text: "Hi"}}},
		},
		connections: map[string]bool{"conn_crm": true},
		fields:      []contacts.Field{{ID: "7", Name: "Size", Type: contacts.Number}, {ID: "8", Name: "Plan", Type: contacts.List, Options: []string{"Free", "Pro"}}},
	}
}

// TestCheckRefs: every reference that is missing or cannot do what the
// node asks is a 422 naming the node and field.
func TestCheckRefs(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name   string
		change func(a *Automation)
		want   string
	}{
		{"missing channel", func(a *Automation) { a.Nodes[0].ChannelID = "ch_gone" }, `nodes[0] (n1): channel_id "ch_gone" is not a channel of this account.`},
		{"messenger channel", func(a *Automation) { a.Nodes[5].ChannelID = "ch_fb" }, "nodes[5] (bye): channel_id ch_fb is a messenger channel: messages are sent on whatsapp, sms and voice channels."},
		{"template on sms", func(a *Automation) { a.Nodes[0].ChannelID = "ch_sms" }, "nodes[0] (n1): template cannot be sent on sms channel ch_sms: it sends text only."},
		{"sms too long", func(a *Automation) { a.Nodes[5].Text = strings.Repeat("x", 1601) }, "nodes[5] (bye): text is 1601 characters long; an SMS takes at most 1600."},
		{"call too long", func(a *Automation) {
			a.Nodes[5].ChannelID, a.Nodes[5].Text = "ch_voice", strings.Repeat("&", 800)
		}, "nodes[5] (bye): text makes a call's TwiML of 4032 characters (the text escaped in <Response><Say>…</Say></Response>); at most 4000."},
		{"missing template", func(a *Automation) { a.Nodes[0].Template.Name = "nope" }, `nodes[0] (n1): template "nope" (en) is not a template of channel ch_wa.`},
		{"template in another language", func(a *Automation) { a.Nodes[0].Template.Language = "es" }, `nodes[0] (n1): template "template_name" (es) is not a template of channel ch_wa.`},
		{"unapproved template", func(a *Automation) { a.Nodes[0].Template = &TemplateRef{Name: "pending", Language: "en"} }, `nodes[0] (n1): template "pending" (en) is PENDING, not APPROVED: only an approved template can be sent.`},
		{"too few params", func(a *Automation) { a.Nodes[0].Template.Params = nil }, `nodes[0] (n1): template.params template "template_name" (en) takes 1 body parameter, got 0.`},
		{"too many params", func(a *Automation) { a.Nodes[0].Template.Params = []string{"a", "b"} }, `nodes[0] (n1): template.params template "template_name" (en) takes 1 body parameter, got 2.`},
		{"missing connection", func(a *Automation) { a.Nodes[8].ConnectionID = "conn_gone" }, `nodes[8] (n9): connection_id "conn_gone" is not a connection of this account.`},
		{"missing custom field", func(a *Automation) { a.Nodes[9].Field = "9" }, "nodes[9] (n10): field 9 is not a custom field of this account."},
		{"missing custom field in a condition", func(a *Automation) { a.Nodes[3].Field = "99" }, "nodes[3] (check): field 99 is not a custom field of this account."},
		{"value of the wrong type", func(a *Automation) { a.Nodes[9].Value = "many" }, `nodes[9] (n10): value must be a number, not "many".`},
		{"not a list option", func(a *Automation) { a.Nodes[9].Field, a.Nodes[9].Value = "8", "Gold" }, ""},
		{"bad email", func(a *Automation) { a.Nodes[4].Field, a.Nodes[4].Value = "email", "not-an-email" }, ""},
		{"trigger's channel", func(a *Automation) { a.Triggers[1].ChannelID = "ch_gone" }, `triggers[1].channel_id: "ch_gone" is not a channel of this account.`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := valid()
			c.change(&a)
			if err := Validate(&a); err != nil {
				t.Fatalf("shape: %v", err)
			}
			err := CheckRefs(ctx, a, refs())
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindRejected || (c.want != "" && e.Message != c.want) || !strings.HasPrefix(e.Message, "nodes[") && !strings.HasPrefix(e.Message, "triggers[") {
				t.Fatalf("got %v\nwant (422) %s", err, c.want)
			}
		})
	}
	a := valid()
	if err := Validate(&a); err != nil {
		t.Fatal(err)
	}
	r := refs()
	if err := CheckRefs(ctx, a, r); err != nil {
		t.Fatalf("every reference exists: %v", err)
	}
	if r.reads != 2 {
		t.Errorf("read channels %d times; want each of the 2 once", r.reads)
	}
	a.Nodes[4].Value = "" // clears the field
	a.Nodes[9].Value = ""
	if err := CheckRefs(ctx, a, r); err != nil {
		t.Fatalf("a set_field that clears: %v", err)
	}
}
