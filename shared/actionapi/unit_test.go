package actionapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/contacts/contactstest"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

func wantIDError(t *testing.T, raw string, err error) {
	t.Helper()
	var ve *apperr.Error
	if !errors.As(err, &ve) || ve.Field != "idContact" {
		t.Errorf("contactID(%s): %v (%T), want an invalid-input error on idContact", raw, err, err)
	}
}

func TestContactID(t *testing.T) {
	cases := []struct {
		raw, want string
		err       bool
	}{
		// "none"
		{``, "", false},
		{`null`, "", false},
		{` null `, "", false},
		{`0`, "", false},
		{` 0`, "", false},
		{`"0"`, "", false},
		{`""`, "", false},
		// numbers and strings
		{`123456789012345`, "123456789012345", false},
		{` 123456789012345 `, "123456789012345", false},
		{`"123456789012345"`, "123456789012345", false},
		{`18446744073709551615`, "18446744073709551615", false},
		{`"pttm25kSGUo1919sBORWyA=="`, "pttm25kSGUo1919sBORWyA==", false},
		{`"+923244077087"`, "+923244077087", false},
		{`"caf\u00e9"`, "café", false},
		// refused
		{`-5`, "", true},
		{`-0`, "", true},
		{`1.5`, "", true},
		{`1.0`, "", true},
		{`1e3`, "", true},
		{`18446744073709551616`, "", true},
		{`true`, "", true},
		{`false`, "", true},
		{`{}`, "", true},
		{`[1]`, "", true},
		{`"unterminated`, "", true},
		{`"bad \x escape"`, "", true},
	}
	for _, c := range cases {
		got, err := contactID(json.RawMessage(c.raw))
		if c.err {
			if err == nil {
				t.Errorf("contactID(%s) = %q, want an error", c.raw, got)
				continue
			}
			wantIDError(t, c.raw, err)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("contactID(%s) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
}

func TestWireID(t *testing.T) {
	cases := []struct {
		id   string
		want any
		bug  string
	}{
		{"123456789012345", int64(123456789012345), ""},
		{"9007199254740991", int64(1<<53 - 1), ""},
		{"9007199254740992", "9007199254740992", ""},
		{"18446744073709551615", "18446744073709551615", ""},
		{"12765756", int64(12765756), ""},
		{"pttm25kSGUo1919sBORWyA==", "pttm25kSGUo1919sBORWyA==", ""},
		{"", "", ""},
		{"1.5", "1.5", ""},
		// A channel's own ID (the PSID a contact is collected under) that
		// only looks like a number must stay a string: the client sends
		// back what it got, and contactID must give the same ID again.
		{"+923244077087", "+923244077087", "wireID turns the ID \"+923244077087\" into the number 923244077087"},
		{"007", "007", "wireID turns the ID \"007\" into the number 7"},
		{"-5", "-5", "wireID turns the ID \"-5\" into the number -5, which contactID refuses"},
	}
	for _, c := range cases {
		got := wireID(c.id)
		if got != c.want {
			t.Run(c.id, func(t *testing.T) {
				t.Errorf("wireID(%q) = %#v, want %#v (%s)", c.id, got, c.want, c.bug)
			})
			continue
		}
		// What the client gets back names the same contact.
		b, _ := json.Marshal(got)
		if back, err := contactID(b); c.id != "" && (err != nil || back != c.id) {
			t.Errorf("wireID(%q) = %s does not round-trip: %q, %v", c.id, b, back, err)
		}
	}
}

func TestInputs(t *testing.T) {
	var act action
	body := `{"type":"NEW","Number":"+16193596440","Email":"exaple@example.com","Fname":"firtsName","Lname":null,
		"Custom":{"12":"gold","3":true,"Plan":5},"Opportunitie":true}`
	if err := json.Unmarshal([]byte(body), &act); err != nil {
		t.Fatal(err)
	}
	got := inputs(act)
	want := []contacts.Input{
		{Name: "phone", Value: json.RawMessage(`"+16193596440"`)},
		{Name: "email", Value: json.RawMessage(`"exaple@example.com"`)},
		{Name: "firstName", Value: json.RawMessage(`"firtsName"`)},
		{Name: "lastName", Value: json.RawMessage(`null`)}, // null clears
		{Name: "12", Value: json.RawMessage(`"gold"`)},
		{Name: "3", Value: json.RawMessage(`true`)},
		{Name: "Plan", Value: json.RawMessage(`5`)},
	}
	if len(got) != len(want) {
		t.Fatalf("inputs = %v", got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || string(got[i].Value) != string(want[i].Value) {
			t.Errorf("inputs[%d] = %s %s, want %s %s", i, got[i].Name, got[i].Value, want[i].Name, want[i].Value)
		}
	}
	if act.Opportunity == nil || !*act.Opportunity {
		t.Error("Opportunitie not read")
	}
	// Absent keys set nothing.
	if got := inputs(action{Fname: json.RawMessage(`"Ana"`)}); len(got) != 1 || got[0].Name != "firstName" {
		t.Errorf("one key: %v", got)
	}
	if got := inputs(action{}); len(got) != 0 {
		t.Errorf("no keys: %v", got)
	}
}

func TestStr(t *testing.T) {
	for raw, want := range map[string]string{`"Juan"`: "Juan", `"a\"b"`: `a"b`, `5`: "5", `null`: "", ``: "", `true`: "true", `"  x "`: "  x "} {
		if got := str(json.RawMessage(raw)); got != want {
			t.Errorf("str(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestPresentSeed003(t *testing.T) {
	c := contacts.Contact{ID: "123456789012345", Fields: map[string]string{"phone": "+16193596440", "firstName": "Juan", "gender": "male"},
		Custom: map[string]string{"1": "gold", "2": "orphan"}, Opportunity: true, CreatedAt: 42}
	got := present(c, []contacts.Field{{ID: "1", Name: "Plan"}, {ID: "3", Name: "Empty"}})
	b, _ := json.Marshal(got)
	want := `{"Custom":{"1":"gold"},"Email":"","Fname":"Juan","Lname":"","Number":"+16193596440","Opportunitie":true,"created_at":42,"idContact":123456789012345,"tags":[]}`
	if string(b) != want {
		t.Errorf("present = %s\nwant      %s", b, want)
	}
}

func FuzzContactID(f *testing.F) {
	for _, s := range []string{``, `null`, `0`, `"0"`, `""`, `123456789012345`, `"123456789012345"`, `-5`, `1.5`, `1e3`,
		`18446744073709551616`, `true`, `{}`, `"a\u0000b"`, `"007"`, `"+923244077087"`, "\"\xff\"", ` 9007199254740993 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, err := contactID(raw)
		if err != nil {
			wantIDError(t, string(raw), err)
			return
		}
		trimmed := strings.TrimSpace(string(raw))
		if !json.Valid(raw) {
			return // a decoder never hands over invalid JSON
		}
		var v any
		_ = json.Unmarshal(raw, &v)
		switch v := v.(type) {
		case float64:
			if _, perr := strconv.ParseUint(trimmed, 10, 64); perr != nil || (id != trimmed && !(trimmed == "0" && id == "")) {
				t.Fatalf("number %s gave %q", raw, id)
			}
		case string:
			if id != v && !((v == "" || v == "0") && id == "") {
				t.Fatalf("string %s gave %q", raw, id)
			}
		case nil:
			if id != "" {
				t.Fatalf("null gave %q", id)
			}
		default:
			t.Fatalf("%s (%T) accepted as %q", raw, v, id)
		}
		if id == "" {
			return
		}
		// What we answer with names the same contact when sent back.
		w := wireID(id)
		if n, ok := w.(int64); ok && strconv.FormatInt(n, 10) != id {
			t.Fatalf("wireID(%q) = %d names another contact", id, n)
		}
		b, _ := json.Marshal(w)
		if back, err := contactID(b); err != nil || back != id {
			t.Fatalf("id %q answered as %s comes back as %q, %v", id, b, back, err)
		}
	})
}

// --- the action endpoint against an in-memory store ---

func TestRunActions(t *testing.T) {
	st := contactstest.New()
	svc := &contacts.Service{Store: st, Phone: phone.Normalize, Now: func() time.Time { return time.Unix(1714560000, 0) }}
	// No automation exists here (shared/autorun's tests enroll for real).
	a := &API{svc: svc, phone: phone.Normalize, fixedLine: phone.FixedLine, now: svc.Now,
		enroll: &autorun.Service{Automations: noAutomations{}, Contacts: svc, Now: svc.Now}}
	typ, name := "text", "Plan"
	plan, err := svc.CreateField(context.Background(), "t1", contacts.FieldInput{Name: &name, Type: &typ})
	if err != nil {
		t.Fatal(err)
	}
	sc := contacts.Scope{TenantID: "t1", DefaultCountry: "US"}
	run := func(body string) result {
		t.Helper()
		fields, _ := svc.ListFields(context.Background(), "t1")
		// An account without channels: SMS and calls are checked, then
		// refused for want of a channel.
		chs := &channels{load: func() ([]tenancy.Channel, error) { return nil, nil }}
		return a.run(context.Background(), sc, fields, chs, json.RawMessage(body))
	}

	res := run(fmt.Sprintf(`{"type":"new","Number":"+16193596440","Email":"exaple@example.com","Fname":"Juan","Lname":"Pedro","Custom":{%q:"gold"},"Opportunitie":true}`, plan.ID))
	id, ok := res.IDContact.(int64)
	if res.Status != "success" || res.Type != "NEW" || !ok || id < 1e14 {
		t.Fatalf("NEW: %+v", res)
	}
	ids := strconv.FormatInt(id, 10)
	c, _ := st.GetContact(context.Background(), "t1", "", ids)
	if c.Fields["phone"] != "+16193596440" || c.Custom[plan.ID] != "gold" || !c.Opportunity {
		t.Fatalf("stored %+v", c)
	}

	res = run(`{"type":"EDIT","Number":"(619) 359-6441","idContact":` + ids + `}`)
	if res.Status != "success" || res.IDContact != id {
		t.Fatalf("EDIT: %+v", res)
	}
	if c, _ = st.GetContact(context.Background(), "t1", "", ids); c.Fields["phone"] != "+16193596441" || !c.Opportunity {
		t.Fatalf("after EDIT %+v (Opportunitie absent must keep it)", c)
	}
	res = run(`{"type":"EDIT","Opportunitie":false,"idContact":"` + ids + `"}`)
	if c, _ = st.GetContact(context.Background(), "t1", "", ids); res.Status != "success" || c.Opportunity {
		t.Fatalf("EDIT Opportunitie: %+v %+v", res, c)
	}

	for _, body := range []string{`{"type":"SEARCH","Fname":"JUAN","Lname":"pedro","idContact":0}`, `{"type":"SEARCH","idContact":` + ids + `}`, `{"type":"SEARCH","Lname":"Pedro"}`} {
		res = run(body)
		data, _ := res.Data.([]map[string]any)
		if res.Status != "success" || len(data) != 1 || data[0]["idContact"] != id || data[0]["Fname"] != "Juan" {
			t.Fatalf("%s: %+v", body, res)
		}
	}
	res = run(`{"type":"SEARCH","idContact":123456789012345}`)
	if data, ok := res.Data.([]map[string]any); res.Status != "success" || !ok || len(data) != 0 {
		t.Fatalf("SEARCH unknown ID: %+v", res)
	}
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"data":[]`) {
		t.Fatalf("an empty SEARCH must answer data []: %s", b)
	}

	errs := []struct {
		body, typ, says string
	}{
		{`{"type":"EDIT","Fname":"X"}`, "EDIT", "idContact: is required to EDIT"},
		{`{"type":"TRASH","idContact":0}`, "TRASH", "idContact: is required to TRASH"},
		{`{"type":"EDIT","idContact":-1,"Fname":"X"}`, "EDIT", "idContact: must be a whole number"},
		{`{"type":"EDIT","idContact":123456789012345,"Fname":"X"}`, "EDIT", "not found"},
		{`{"type":"NEW","Email":"not an email"}`, "NEW", "email: must be an email address"},
		{`{"type":"NEW","Custom":{"99":"x"}}`, "NEW", "99: is not a contact field"},
		{`{"type":"SEARCH"}`, "SEARCH", "Fname: or Lname or idContact is required"},
		{`{"type":"CALL","number":"+16193596440","text":"hi"}`, "CALL", "no voice channel"},
		{`{"type":"SMS","number":"+16193596440","text":"hi"}`, "SMS", "no sms channel"},
		{`{"type":"SMS","number":"16193596440","text":"hi"}`, "SMS", "no sms channel"},
		{`{"type":"SMS","text":"hi"}`, "SMS", "number: is required"},
		{`{"type":"SMS","number":"03244077087","text":"hi"}`, "SMS", "number: \"03244077087\" is not a valid phone number"},
		{`{"type":"CALL","number":"0300 1234567","text":"hi"}`, "CALL", "not a valid phone number"},
		{`{"type":"SMS","number":"+12","text":"hi"}`, "SMS", "not a valid phone number"},
		{`{"type":"SMS","number":"+442071234567","text":"hi"}`, "SMS", "fixed-line"},
		{`{"type":"SMS","number":"+16193596440"}`, "SMS", "text: is required"},
		{`{"type":"SMS","number":"+16193596440","text":"  "}`, "SMS", "text: is empty"},
		{`{"type":"CALL","number":"+16193596440","text":42}`, "CALL", "text: must be a string"},
		{`{"type":"SMS","number":"+16193596440","text":"` + strings.Repeat("a", 1601) + `"}`, "SMS", "at most 1600"},
		{`{"type":"CALL","number":"+16193596440","text":"` + strings.Repeat("&", 800) + `"}`, "CALL", "at most 4000"},
		{`{"idContact":1,"idAuto":2}`, "", `Automation "2" not found`},
		{`{"idContact":1,"idAuto":null}`, "", "idAuto: is required"},
		{`{"idContact":1,"idAuto":-2}`, "", "idAuto: must be a whole number or a string"},
		{`{"type":"MERGE"}`, "MERGE", `not "MERGE"`},
		{`{}`, "", "type is required"},
		{`{"type":"NEW","Bogus":1}`, "", "Invalid action"},
		{`[1]`, "", "Invalid action"},
	}
	for _, e := range errs {
		res := run(e.body)
		if res.Status != "error" || res.Type != e.typ || !strings.Contains(res.Message, e.says) || res.IDContact != nil {
			t.Errorf("%s: %+v, want an error %q", e.body, res, e.says)
		}
	}

	res = run(`{"type":"TRASH","idContact":` + ids + `}`)
	if res.Status != "success" || res.IDContact != id {
		t.Fatalf("TRASH: %+v", res)
	}
	if _, err := st.GetContact(context.Background(), "t1", "", ids); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatal("not deleted")
	}
	if res = run(`{"type":"TRASH","idContact":` + ids + `}`); res.Status != "error" || !strings.Contains(res.Message, "not found") {
		t.Fatalf("second TRASH: %+v", res)
	}
}

// The channel an SMS or a call goes out on: the oldest of the kind with
// Twilio credentials; an error that names what is missing otherwise.
func TestPickPhoneChannel(t *testing.T) {
	tw := &tenancy.TwilioInfo{AccountSID: "AC00000000000000000000000000000042", Configured: true}
	list := []tenancy.Channel{
		{ID: "ch_wa", Kind: tenancy.WhatsApp, CreatedAt: 1},
		{ID: "ch_smsnew", Kind: tenancy.SMS, CreatedAt: 30, Twilio: tw},
		{ID: "ch_smsbare", Kind: tenancy.SMS, CreatedAt: 5},
		{ID: "ch_smsb", Kind: tenancy.SMS, CreatedAt: 20, Twilio: tw},
		{ID: "ch_smsa", Kind: tenancy.SMS, CreatedAt: 20, Twilio: tw},
		{ID: "ch_voicebare", Kind: tenancy.Voice, CreatedAt: 2},
	}
	if c, err := PickPhoneChannel(list, tenancy.SMS); err != nil || c.ID != "ch_smsa" {
		t.Fatalf("sms: %v %v, want the oldest with credentials (the lower ID on a tie)", c.ID, err)
	}
	if _, err := PickPhoneChannel(list, tenancy.Voice); err == nil || !strings.Contains(err.Error(), "ch_voicebare has no Twilio credentials") {
		t.Fatalf("voice without credentials: %v", err)
	}
	if _, err := PickPhoneChannel(list[:1], tenancy.Voice); err == nil || !strings.Contains(err.Error(), "no voice channel") || !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("no voice channel: %v", err)
	}
}

// noAutomations is a definitions store without any automation.
type noAutomations struct{ automations.Store }

func (noAutomations) GetAutomation(_ context.Context, _, id string) (automations.Automation, error) {
	return automations.Automation{}, apperr.NotFound("Automation", id)
}
