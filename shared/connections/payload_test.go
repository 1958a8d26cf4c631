package connections

import (
	"slices"
	"testing"

	"github.com/startmsg/chatbackend/shared/contacts"
)

func TestFired(t *testing.T) {
	ev := func(kind, seq string) *contacts.Event {
		return &contacts.Event{Kind: kind, Seq: seq, PostbackID: "GET_STARTED", At: 1}
	}
	with := func(fields map[string]string, e *contacts.Event) *contacts.Contact {
		return &contacts.Contact{ID: "c1", Fields: fields, LastEvent: e}
	}
	cases := []struct {
		name string
		old  *contacts.Contact // nil: a new contact
		cur  *contacts.Contact
		want []Trigger
	}{
		{"new contact without trigger fields", nil, with(map[string]string{"firstName": "Ana"}, nil), nil},
		{"new contact with email and phone", nil, with(map[string]string{"email": "a@b.c", "phone": "+14155550123"}, nil), []Trigger{TriggerEmail, TriggerPhone}},
		{"new contact with every field, in trigger order", nil, with(map[string]string{"location": "1,2", "birthday": "2000-01-01", "phone": "+1", "email": "a@b.c"}, nil),
			[]Trigger{TriggerEmail, TriggerPhone, TriggerBirthday, TriggerLocation}},
		{"new contact with a postback", nil, with(nil, ev(contacts.EventPostback, "1")), []Trigger{TriggerPostback}},
		{"email set", with(map[string]string{}, nil), with(map[string]string{"email": "a@b.c"}, nil), []Trigger{TriggerEmail}},
		{"email changed", with(map[string]string{"email": "a@b.c"}, nil), with(map[string]string{"email": "z@b.c"}, nil), []Trigger{TriggerEmail}},
		{"email unchanged", with(map[string]string{"email": "a@b.c"}, nil), with(map[string]string{"email": "a@b.c", "firstName": "Ana"}, nil), nil},
		{"email cleared fires nothing", with(map[string]string{"email": "a@b.c"}, nil), with(map[string]string{}, nil), nil},
		{"phone changed, birthday set", with(map[string]string{"phone": "+1"}, nil), with(map[string]string{"phone": "+2", "birthday": "2000-01-01"}, nil), []Trigger{TriggerPhone, TriggerBirthday}},
		{"location field set", with(nil, nil), with(map[string]string{"location": "1,2"}, nil), []Trigger{TriggerLocation}},
		{"location event", with(nil, nil), with(nil, &contacts.Event{Kind: contacts.EventLocation, Location: "1,2", Seq: "1"}), []Trigger{TriggerLocation}},
		{"location field and event fire location once", with(nil, nil), with(map[string]string{"location": "1,2"}, &contacts.Event{Kind: contacts.EventLocation, Seq: "1"}), []Trigger{TriggerLocation}},
		{"first postback", with(nil, nil), with(nil, ev(contacts.EventPostback, "1")), []Trigger{TriggerPostback}},
		{"the same postback again (new seq)", with(nil, ev(contacts.EventPostback, "1")), with(nil, ev(contacts.EventPostback, "2")), []Trigger{TriggerPostback}},
		{"same event, same seq: a replayed write", with(nil, ev(contacts.EventPostback, "1")), with(nil, ev(contacts.EventPostback, "1")), nil},
		{"webview form", with(nil, ev(contacts.EventPostback, "1")), with(nil, ev(contacts.EventWebviewForm, "2")), []Trigger{TriggerWebviewForm}},
		{"event and field together", with(map[string]string{"email": "a@b.c"}, nil), with(map[string]string{"email": "x@b.c"}, ev(contacts.EventWebviewForm, "1")), []Trigger{TriggerEmail, TriggerWebviewForm}},
		{"an unknown event kind fires nothing", with(nil, nil), with(nil, ev("other", "1")), nil},
		{"tags and names change nothing", with(map[string]string{"firstName": "A"}, nil), &contacts.Contact{ID: "c1", Fields: map[string]string{"firstName": "B"}, Tags: []string{"vip"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Fired(c.old, *c.cur); !slices.Equal(got, c.want) {
				t.Errorf("Fired = %v, want %v", got, c.want)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	c := contacts.Contact{
		ID: "100000000000042", CreatedAt: 1795316400, // 2026-11-22 03:00:00 UTC
		Fields:    map[string]string{"firstName": "Ana", "lastName": "Lima", "email": "ana@example.com", "phone": "+14155550123", "location": "-23.5,-46.6"},
		Custom:    map[string]string{"7": "Gold", "9": "2026-01-02"},
		Tags:      []string{"Demo", "Demo Label 1"},
		LastEvent: &contacts.Event{Kind: contacts.EventWebviewForm, PostbackID: "GET_STARTED", WebviewFormID: "form_9", Seq: "1"},
	}
	ch := Channel{ID: "ch_1", Name: "Acme Page"}
	defs := []contacts.Field{{ID: "7", Name: "Plan"}, {ID: "9", Name: "Renewal"}, {ID: "11", Name: "Empty"}}
	cases := []struct {
		name   string
		c      contacts.Contact
		fields []string
		want   string
	}{
		{"every field, the seed's order then custom fields by name", c, nil,
			`{"psid":"100000000000042","first_name":"Ana","last_name":"Lima","subscribed_at":"2026-11-22 03:00:00","email":"ana@example.com","labels":"Demo,Demo Label 1","page_id":"ch_1","page_name":"Acme Page","phone_number":"+14155550123","user_location":"-23.5,-46.6","postbackid":"GET_STARTED","subscriber_id":"100000000000042","webview_form_id":"form_9","Plan":"Gold","Renewal":"2026-01-02","Empty":""}`},
		{"the connection's fields only, in its order", c, []string{"email", "Plan", "psid"},
			`{"email":"ana@example.com","Plan":"Gold","psid":"100000000000042"}`},
		{"a contact without values sends empty strings", contacts.Contact{ID: "9", CreatedAt: 0}, []string{"first_name", "labels", "postbackid", "webview_form_id", "subscribed_at", "Plan"},
			`{"first_name":"","labels":"","postbackid":"","webview_form_id":"","subscribed_at":"1970-01-01 00:00:00","Plan":""}`},
		{"a field that is neither standard nor defined is empty", c, []string{"nope"}, `{"nope":""}`},
		{"JSON special characters are escaped", contacts.Contact{ID: "q", Fields: map[string]string{"firstName": "A \"B\" <c> & \\"}}, []string{"first_name"},
			`{"first_name":"A \"B\" \u003cc\u003e \u0026 \\"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Payload(tc.c, ch, defs, tc.fields)); got != tc.want {
				t.Errorf("Payload =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// The seed's fields, in the seed's order.
	want := []string{"psid", "first_name", "last_name", "subscribed_at", "email", "labels", "page_id", "page_name", "phone_number", "user_location", "postbackid", "subscriber_id", "webview_form_id"}
	if !slices.Equal(PayloadFields, want) {
		t.Errorf("PayloadFields = %v, want %v", PayloadFields, want)
	}
}
