package autorun

import (
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// TestWaitUntil: a wait of seconds, or until the next HH:MM in the
// contact's time zone (an IANA name, an offset in hours, ±HH:MM; UTC
// without one or with one that says nothing usable).
func TestWaitUntil(t *testing.T) {
	e := &Engine{Zone: time.LoadLocation}
	now := time.Date(2026, 12, 6, 8, 30, 0, 0, time.UTC)
	tz := func(z string) contacts.Contact { return contacts.Contact{Fields: map[string]string{"timezone": z}} }
	for _, c := range []struct {
		contact contacts.Contact
		node    automations.Node
		want    time.Time
	}{
		{tz(""), automations.Node{Seconds: 90}, now.Add(90 * time.Second)},
		{tz(""), automations.Node{Until: "09:00"}, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
		{tz(""), automations.Node{Until: "08:30"}, time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC)}, // now is not after now
		{tz("5"), automations.Node{Until: "09:00"}, time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)}, // 13:30 there
		{tz("+5.5"), automations.Node{Until: "14:30"}, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
		{tz("-07:00"), automations.Node{Until: "02:00"}, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}, // 01:30 there
		{tz("Asia/Karachi"), automations.Node{Until: "14:00"}, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
		{tz("Not/AZone"), automations.Node{Until: "09:00"}, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)},
	} {
		got, err := e.waitUntil(c.contact, c.node, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q %+v: %v %v, want %v", c.contact.Fields["timezone"], c.node, got.UTC(), err, c.want)
		}
	}
	for _, n := range []automations.Node{{Seconds: 0}, {Until: "25:00"}, {Until: "9am"}} {
		if _, err := e.waitUntil(tz(""), n, now); err == nil {
			t.Errorf("%+v: no error", n)
		}
	}
}

// TestCondition: the operators on standard and custom fields.
func TestCondition(t *testing.T) {
	e := &Engine{}
	c := contacts.Contact{Fields: map[string]string{"email": "Ann@Example.com"}, Custom: map[string]string{"7": "Gold"}}
	for _, x := range []struct {
		field, op, value string
		want             bool
	}{
		{"email", automations.OpEquals, " ann@example.com ", true},
		{"email", automations.OpContains, "EXAMPLE", true},
		{"email", automations.OpNotEquals, "bob@example.com", true},
		{"phone", automations.OpNotEquals, "x", true},
		{"phone", automations.OpEquals, "", false},
		{"phone", automations.OpIsNotSet, "", true},
		{"7", automations.OpEquals, "gold", true},
		{"7", automations.OpIsSet, "", true},
		{"8", automations.OpIsSet, "", false},
	} {
		got, err := e.matches(t.Context(), c, automations.Node{Field: x.field, Op: x.op, Value: x.value})
		if err != nil || got != x.want {
			t.Errorf("%s %s %q: %v %v", x.field, x.op, x.value, got, err)
		}
	}
	if _, err := e.matches(t.Context(), c, automations.Node{Field: "email", Op: "like"}); err == nil {
		t.Error("an unknown operator")
	}
}
