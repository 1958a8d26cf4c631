// Package actionapi serves POST /v1/actions (seed 003): a batch of contact
// actions (NEW, EDIT, TRASH, SEARCH), SMS and calls (SMS, CALL: messages
// queued on the tenant's sms or voice channel, phone.go) in the document's
// vocabulary, each run on its own. Its function parses phone numbers
// (wiring.WithPhone, wiring.WithFixedLine).
package actionapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// Actions builds the handler of function actions.
func Actions(p Ports) http.Handler {
	a := &API{svc: &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()},
		messages: p.MessageStore(), tenancy: p.TenancyStore(), phone: p.Phone(), fixedLine: p.FixedLine(), now: p.Clock(),
		enroll: p.Enrollment()}
	return contactapi.Idempotent(p, "actions", httpapi.HandlerFunc(a.actions))
}

// Ports are what the action handler needs; shared/wiring provides them.
type Ports interface {
	ContactStore() contacts.Store
	IdempotencyStore() idempotency.Store
	Phone() contacts.PhoneNormalizer
	// FixedLine reports whether a number is a fixed line (SMS to it are
	// refused); nil: no number is.
	FixedLine() func(string) bool
	Clock() func() time.Time
	// MessageStore stores the SMS and calls (queued: the stream takes them
	// to the sender); TenancyStore lists the channels they go out on.
	MessageStore() messages.Store
	TenancyStore() tenancy.Store
	// Enrollment enrolls contacts in automations ({idContact, idAuto}).
	Enrollment() *autorun.Service
}

// API holds the handler's service.
type API struct {
	svc       *contacts.Service
	messages  messages.Store
	tenancy   tenancy.Store
	phone     contacts.PhoneNormalizer
	fixedLine func(string) bool
	now       func() time.Time
	enroll    *autorun.Service
}

// MaxActions is how many actions one request may carry.
const MaxActions = 100

// action is one element of seed 003's $data[] array.
type action struct {
	Type        string                     `json:"type"`
	Number      json.RawMessage            `json:"Number"`
	Email       json.RawMessage            `json:"Email"`
	Fname       json.RawMessage            `json:"Fname"`
	Lname       json.RawMessage            `json:"Lname"`
	Custom      map[string]json.RawMessage `json:"Custom"`
	Opportunity *bool                      `json:"Opportunitie"`
	IDContact   json.RawMessage            `json:"idContact"`
	// Automation, CALL and SMS items (messaging).
	IDAuto json.RawMessage `json:"idAuto"`
	To     json.RawMessage `json:"number"`
	Text   json.RawMessage `json:"text"`
}

// result is one element of the answer, in the order of the actions.
type result struct {
	Type      string `json:"type"`
	Status    string `json:"status"`
	Message   string `json:"message,omitempty"`
	IDContact any    `json:"idContact,omitempty"`
	Data      any    `json:"data,omitempty"` // SEARCH: always a list
	// SMS and CALL: the message queued, its status (GET
	// /v1/messages/{idMessage} with the account secret follows it) and
	// the channel it goes out on.
	IDMessage     string `json:"idMessage,omitempty"`
	MessageStatus string `json:"messageStatus,omitempty"`
	IDChannel     string `json:"idChannel,omitempty"`
	// IDAuto and IDRun: an enrollment's automation, as given, and its run.
	IDAuto any    `json:"idAuto,omitempty"`
	IDRun  string `json:"idRun,omitempty"`
}

// actions is POST /v1/actions: every action runs on its own, and a failing
// one does not undo the others.
func (a *API) actions(w http.ResponseWriter, r *http.Request) error {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if err := httpapi.Unmarshal(body, &items, false); err != nil {
		he, _ := httpapi.AsHTTP(err)
		return apperr.BadRequest("The body must be a JSON array of actions. %s", he.Message)
	}
	if len(items) == 0 || len(items) > MaxActions {
		return apperr.BadRequest("The body must hold 1 to %d actions, not %d.", MaxActions, len(items))
	}
	sc := contactapi.Scope(r)
	fields, err := a.svc.ListFields(r.Context(), sc.TenantID)
	if err != nil {
		return err
	}
	out := make([]result, len(items))
	chs := &channels{load: func() ([]tenancy.Channel, error) { return a.tenancy.ListChannels(r.Context(), sc.TenantID) }}
	for i, raw := range items {
		out[i] = a.run(r.Context(), sc, fields, chs, raw)
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) run(ctx context.Context, sc contacts.Scope, fields []contacts.Field, chs *channels, raw json.RawMessage) result {
	var act action
	if err := httpapi.Unmarshal(raw, &act, true); err != nil {
		he, _ := httpapi.AsHTTP(err)
		return fail("", "Invalid action: "+he.Message)
	}
	typ := strings.ToUpper(strings.TrimSpace(act.Type))
	switch typ {
	case "NEW", "EDIT", "TRASH", "SEARCH", "CALL", "SMS":
		var (
			res result
			err error
		)
		if typ == "CALL" || typ == "SMS" {
			res, err = a.phoneAction(ctx, sc, chs, typ, act)
		} else {
			res, err = a.contactAction(ctx, sc, fields, typ, act)
		}
		if err != nil {
			he, ok := httpapi.AsHTTP(err)
			if !ok {
				slog.ErrorContext(ctx, "action failed", "type", typ, "err", err)
			}
			return fail(typ, he.Message)
		}
		return res
	case "":
		if len(act.IDAuto) > 0 {
			return a.enrollAction(ctx, sc, act)
		}
		return fail("", "type is required: NEW, EDIT, TRASH, SEARCH, CALL or SMS.")
	default:
		return fail(act.Type, fmt.Sprintf("type must be NEW, EDIT, TRASH, SEARCH, CALL or SMS, not %q.", act.Type))
	}
}

func fail(typ, msg string) result { return result{Type: typ, Status: "error", Message: msg} }

// enrollAction is seed 003's "Add to automation": {idContact, idAuto}
// enrolls the contact in the automation (it must exist, be on and have
// nodes; the contact must exist and not be in an active run of it).
func (a *API) enrollAction(ctx context.Context, sc contacts.Scope, act action) result {
	res, err := func() (result, error) {
		autoID, err := automationID(act.IDAuto)
		if err != nil {
			return result{}, err
		}
		id, err := contactID(act.IDContact)
		if err != nil {
			return result{}, err
		}
		if id == "" {
			return result{}, apperr.Invalid("idContact", "is required to add a contact to an automation")
		}
		run, err := a.enroll.Enroll(ctx, sc.TenantID, autoID, id, automations.SourceAPI)
		if err != nil {
			return result{}, err
		}
		return result{Status: "success", IDContact: wireID(id), IDAuto: wireID(autoID), IDRun: run.ID}, nil
	}()
	if err != nil {
		he, ok := httpapi.AsHTTP(err)
		if !ok {
			slog.ErrorContext(ctx, "action failed", "type", "idAuto", "err", err)
		}
		r := fail("", he.Message)
		r.IDAuto = json.RawMessage(act.IDAuto)
		return r
	}
	return res
}

// automationID reads idAuto, a number or a string.
func automationID(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == `""` {
		return "", apperr.Invalid("idAuto", "is required: the ID of the automation")
	}
	if s[0] == '"' {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || len(v) > 64 {
			return "", apperr.Invalid("idAuto", "must be an automation ID (a number or a string of at most 64 characters)")
		}
		return v, nil
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", apperr.Invalid("idAuto", "must be a whole number or a string, not "+s)
	}
	return s, nil
}

func (a *API) contactAction(ctx context.Context, sc contacts.Scope, fields []contacts.Field, typ string, act action) (result, error) {
	id, err := contactID(act.IDContact)
	if err != nil {
		return result{}, err
	}
	ok := result{Type: typ, Status: "success"}
	switch typ {
	case "NEW":
		c, err := a.svc.Create(ctx, sc, inputs(act), act.Opportunity != nil && *act.Opportunity)
		ok.IDContact = wireID(c.ID)
		return ok, err
	case "EDIT":
		if id == "" {
			return result{}, apperr.Invalid("idContact", "is required to EDIT")
		}
		c, err := a.svc.Update(ctx, sc, id, inputs(act), act.Opportunity)
		ok.IDContact = wireID(c.ID)
		return ok, err
	case "TRASH":
		if id == "" {
			return result{}, apperr.Invalid("idContact", "is required to TRASH")
		}
		ok.IDContact = wireID(id)
		return ok, a.svc.Delete(ctx, sc, id)
	default: // SEARCH
		var found []contacts.Contact
		if id != "" {
			// Every contact with this ID: channels' own IDs may repeat
			// across channels.
			if found, err = a.svc.Lookup(ctx, sc, id); err != nil {
				return result{}, err
			}
		} else {
			found, err = a.svc.FindByName(ctx, sc, str(act.Fname), str(act.Lname), 100)
			if err != nil {
				return result{}, err
			}
		}
		data := make([]map[string]any, len(found))
		for i, c := range found {
			data[i] = present(c, fields)
		}
		ok.Data = data
		return ok, nil
	}
}

// inputs maps the seed's keys onto contact fields; Custom is by field ID
// (or name).
func inputs(act action) []contacts.Input {
	var in []contacts.Input
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"phone", act.Number}, {"email", act.Email}, {"firstName", act.Fname}, {"lastName", act.Lname}} {
		if len(f.v) > 0 {
			in = append(in, contacts.Input{Name: f.name, Value: f.v})
		}
	}
	ids := make([]string, 0, len(act.Custom))
	for id := range act.Custom {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		in = append(in, contacts.Input{Name: id, Value: act.Custom[id]})
	}
	return in
}

// contactID reads idContact, a number or a string; 0 and "" mean none.
func contactID(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "0" || s == `""` || s == `"0"` {
		return "", nil
	}
	if s[0] == '"' {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", apperr.Invalid("idContact", "must be a number or a string")
		}
		return v, nil
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", apperr.Invalid("idContact", "must be a whole number or a string, not "+s)
	}
	return s, nil
}

// wireID answers a numeric ID as a JSON number, as seed 003's clients send
// it; other IDs (a channel's own) as strings.
func wireID(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && n < 1<<53 && strconv.FormatInt(n, 10) == id {
		return n
	}
	return id
}

func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return strings.Trim(string(raw), `"`)
	}
	return s
}

// present shows a contact in seed 003's vocabulary.
func present(c contacts.Contact, fields []contacts.Field) map[string]any {
	custom := map[string]string{}
	for _, f := range fields {
		if v, ok := c.Custom[f.ID]; ok {
			custom[f.ID] = v
		}
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"idContact":    wireID(c.ID),
		"Number":       c.Fields["phone"],
		"Email":        c.Fields["email"],
		"Fname":        c.Fields["firstName"],
		"Lname":        c.Fields["lastName"],
		"Custom":       custom,
		"Opportunitie": c.Opportunity,
		"tags":         tags,
		"created_at":   c.CreatedAt,
	}
}
