package wahook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// InboxKeyPrefix starts every WhatsApp inbox item's partition key
// (WAINBOX#<tenantId>#<channelId>): the intake's stream filter.
const InboxKeyPrefix = "WAINBOX#"

// Attributes of an inbox item, as the intake reads them from the stream.
const (
	AttrTenant     = "tenant_id"
	AttrChannel    = "channel_id"
	AttrCountry    = "default_country"
	AttrPhone      = "phone_number_id"
	AttrWABA       = "waba_id"
	AttrBody       = "body"
	AttrReceivedAt = "received_at"
)

// InboxTTL is how long an inbox item is kept (the intake reads it within
// seconds); DedupeTTL how long a wamid is remembered: Meta retries a call
// for up to 7 days.
const (
	InboxTTL  = 7 * 24 * time.Hour
	DedupeTTL = 8 * 24 * time.Hour
)

// MessageStore is the message store as the intake uses it (the messaging
// core's store implements it).
type MessageStore interface {
	// Inbound stores an inbound message and sets its contact's last
	// inbound time on the channel to the message's time (opening the
	// 24-hour window), unless a message with the same provider id (wamid)
	// is stored on the channel already: dup is then true and nothing is
	// written. It must be idempotent by (tenant, channel, provider id): a
	// retried stream batch may call it again for a message it stored.
	Inbound(ctx context.Context, m messages.Message) (dup bool, err error)
	// ApplyStatus moves the channel's outbound message whose provider id
	// is wamid to st at at, if that is a step forward (f: why it failed);
	// an apperr.KindNotFound if the channel sent no such message.
	ApplyStatus(ctx context.Context, tenantID, channelID, wamid string, st messages.Status, at time.Time, f *messages.Failure) error
}

// TemplateStatuses takes template status updates (the template registry
// implements it).
type TemplateStatuses interface {
	// TemplateStatus records a template's new status on a channel of its
	// WABA; an apperr.KindNotFound if the channel has no such template.
	TemplateStatus(ctx context.Context, tenantID, channelID string, u TemplateStatusUpdate) error
}

// Marks remembers the inbound messages recorded, by wamid (operations
// table items with a TTL).
type Marks interface {
	// Seen reports whether the channel's message wamid was recorded.
	Seen(ctx context.Context, tenantID, channelID, wamid string) (bool, error)
	// Mark records it, until expires.
	Mark(ctx context.Context, tenantID, channelID, wamid string, expires time.Time) error
}

// ContactIDOf is the contact ID of a WhatsApp user on a channel: its wa_id
// (the phone number's digits, without the "+").
func ContactIDOf(waID string) string { return waID }

// DefaultParallel is how many contacts' messages (and statuses) the intake
// records at once; one contact's messages are recorded in order.
const DefaultParallel = 16

// Intake is the stream consumer that records the contents of inbox items.
type Intake struct {
	Contacts  *contacts.Service
	Messages  MessageStore
	Templates TemplateStatuses
	Marks     Marks
	Parallel  int
	Log       *slog.Logger
}

// Stats counts what one inbox item came to.
type Stats struct {
	Inbound, Duplicate, Statuses, Templates, Skipped int
}

// Handle is the stream event handler (ReportBatchItemFailures). Records
// other than inserted WhatsApp inbox items are skipped. The first item that
// cannot be recorded whole (a store failure) is reported failed with every
// record after it; Lambda retries from there, and the messages already
// recorded are skipped by their wamid.
func (in *Intake) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var out events.DynamoDBEventResponse
	for i, rec := range ev.Records {
		if err := in.record(ctx, rec); err != nil {
			in.log().ErrorContext(ctx, "whatsapp intake", "err", err, "sequence", rec.Change.SequenceNumber)
			for _, later := range ev.Records[i:] {
				out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
			}
			break
		}
	}
	return out, nil
}

func (in *Intake) log() *slog.Logger {
	if in.Log == nil {
		return slog.Default()
	}
	return in.Log
}

func (in *Intake) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName != "INSERT" || !strings.HasPrefix(str(rec.Change.Keys["PK"]), InboxKeyPrefix) {
		return nil
	}
	img := rec.Change.NewImage
	it := InboxItem{TenantID: str(img[AttrTenant]), ChannelID: str(img[AttrChannel]), DefaultCountry: str(img[AttrCountry]),
		PhoneNumberID: str(img[AttrPhone]), WABAID: str(img[AttrWABA])}
	var b Body
	if err := json.Unmarshal(binary(img[AttrBody]), &b); err != nil || it.TenantID == "" || it.ChannelID == "" {
		// Checked when it was received: a retry cannot mend it.
		in.log().WarnContext(ctx, "whatsapp intake: unreadable inbox item skipped", "pk", str(rec.Change.Keys["PK"]), "err", err)
		return nil
	}
	st, err := in.Process(ctx, it, b)
	in.log().InfoContext(ctx, "whatsapp intake", "tenant", it.TenantID, "channel", it.ChannelID, "inbound", st.Inbound,
		"duplicate", st.Duplicate, "statuses", st.Statuses, "templates", st.Templates, "skipped", st.Skipped, "err", err)
	return err
}

// work is one contact's inbound messages, in order, with its profile name.
type work struct {
	waID, name string
	msgs       []Message
}

// Process records what a call holds for the item's channel: the inbound
// messages of its phone number (several contacts at once, each contact's
// in order), the statuses of the messages it sent, and its WABA's template
// status updates. The error is the first store failure; everything else
// was still tried.
func (in *Intake) Process(ctx context.Context, it InboxItem, b Body) (Stats, error) {
	sc := contacts.Scope{TenantID: it.TenantID, ChannelID: it.ChannelID, DefaultCountry: it.DefaultCountry}
	var (
		order    []string
		byFrom   = map[string]*work{}
		statuses []Status
		tpls     []TemplateStatusUpdate
	)
	for _, e := range b.Entry {
		for _, c := range e.Changes {
			switch {
			case c.Field == FieldMessages && it.PhoneNumberID != "" && c.Value.Metadata.PhoneNumberID == it.PhoneNumberID:
				names := map[string]string{}
				for _, ct := range c.Value.Contacts {
					names[ct.WaID] = ct.Profile.Name
				}
				for _, m := range c.Value.Messages {
					w, ok := byFrom[m.From]
					if !ok {
						w = &work{waID: m.From}
						byFrom[m.From] = w
						order = append(order, m.From)
					}
					if n := names[m.From]; n != "" {
						w.name = n
					}
					w.msgs = append(w.msgs, m)
				}
				statuses = append(statuses, c.Value.Statuses...)
			case c.Field == FieldTemplateStatus && it.WABAID != "" && e.ID == it.WABAID:
				v := c.Value
				tpls = append(tpls, TemplateStatusUpdate{WABAID: e.ID, TemplateID: v.MessageTemplateID.String(), Name: v.MessageTemplateName,
					Language: v.MessageTemplateLanguage, Event: v.Event, Reason: v.Reason})
			}
		}
	}
	var (
		mu    sync.Mutex
		st    Stats
		first error
		wg    sync.WaitGroup
	)
	parallel := in.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	run := func(f func() (Stats, error)) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := f()
			mu.Lock()
			defer mu.Unlock()
			st.Inbound += s.Inbound
			st.Duplicate += s.Duplicate
			st.Statuses += s.Statuses
			st.Templates += s.Templates
			st.Skipped += s.Skipped
			if err != nil && first == nil {
				first = err
			}
		})
	}
	for _, from := range order {
		w := byFrom[from]
		run(func() (Stats, error) { return in.contact(ctx, sc, w) })
	}
	// A message's statuses in their order (sent before delivered); the
	// status ladder keeps a late one from moving it back anyway.
	byMsg := map[string][]Status{}
	var msgOrder []string
	for _, s := range statuses {
		if _, ok := byMsg[s.ID]; !ok {
			msgOrder = append(msgOrder, s.ID)
		}
		byMsg[s.ID] = append(byMsg[s.ID], s)
	}
	for _, id := range msgOrder {
		ss := byMsg[id]
		run(func() (Stats, error) { return in.statuses(ctx, sc, ss) })
	}
	for _, u := range tpls {
		run(func() (Stats, error) { return in.template(ctx, sc, u) })
	}
	wg.Wait()
	return st, first
}

// skippable are the errors a retry would meet again: log and go on.
func skippable(err error) bool {
	return apperr.Is(err, apperr.KindInvalid) || apperr.Is(err, apperr.KindTooLarge) || apperr.Is(err, apperr.KindRejected) || apperr.Is(err, apperr.KindNotFound)
}

// contact records one contact's messages in order, stopping at a store
// failure (the later ones wait for the retry, keeping the order).
func (in *Intake) contact(ctx context.Context, sc contacts.Scope, w *work) (Stats, error) {
	var st Stats
	var contactID string
	for _, m := range w.msgs {
		if m.ID == "" || m.From == "" {
			st.Skipped++
			continue
		}
		seen, err := in.Marks.Seen(ctx, sc.TenantID, sc.ChannelID, m.ID)
		if err != nil {
			return st, err
		}
		if seen {
			st.Duplicate++
			continue
		}
		if contactID == "" {
			contactID, err = in.findOrCreate(ctx, sc, w.waID, w.name)
			if skippable(err) {
				st.Skipped += 1
				in.log().WarnContext(ctx, "whatsapp message not recorded: its contact cannot be made", "wamid", m.ID, "err", err)
				continue
			} else if err != nil {
				return st, err
			}
		}
		dup, err := in.Messages.Inbound(ctx, in.message(sc, contactID, m))
		if err != nil && !skippable(err) {
			return st, err
		}
		switch {
		case err != nil:
			st.Skipped++
			in.log().WarnContext(ctx, "whatsapp message not recorded", "wamid", m.ID, "err", err)
		case dup:
			st.Duplicate++
		default:
			st.Inbound++
		}
		if err := in.Marks.Mark(ctx, sc.TenantID, sc.ChannelID, m.ID, in.Contacts.Now().Add(DedupeTTL)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// message is the stored form of an inbound WhatsApp message: text keeps its
// body; every other type keeps its WhatsApp type and a summary as text.
func (in *Intake) message(sc contacts.Scope, contactID string, m Message) messages.Message {
	at := Time(m.Timestamp)
	if at.IsZero() {
		at = in.Contacts.Now()
	}
	out := messages.Message{ID: tenancy.NewID("msg"), TenantID: sc.TenantID, ChannelID: sc.ChannelID, ContactID: contactID,
		Direction: messages.Inbound, Type: messages.Type(m.Type), From: "+" + m.From, ProviderID: m.ID,
		Status: messages.StatusReceived, CreatedAt: at.UnixMilli()}
	if m.Type == "" {
		out.Type = "unknown"
	}
	if s := m.Summary(); s != "" || m.Type == "text" {
		out.Text = &messages.Text{Body: s}
	}
	return out
}

// findOrCreate is the channel's contact of a WhatsApp user: its wa_id is
// the contact's ID; a new contact gets its phone (+wa_id) and, when the
// call gave one, its profile name as firstName (contacts.ChannelContact,
// which sends to a phone number use too).
func (in *Intake) findOrCreate(ctx context.Context, sc contacts.Scope, waID, name string) (string, error) {
	c, err := in.Contacts.ChannelContact(ctx, sc, ContactIDOf(waID), "+"+waID, name)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// statuses applies one message's statuses in order.
func (in *Intake) statuses(ctx context.Context, sc contacts.Scope, ss []Status) (Stats, error) {
	var st Stats
	for _, s := range ss {
		status, ok := StatusOf(s.Status)
		if !ok || s.ID == "" {
			st.Skipped++
			continue
		}
		var f *messages.Failure
		if status == messages.StatusFailed {
			f = s.Failure()
		}
		at := Time(s.Timestamp)
		if at.IsZero() {
			at = in.Contacts.Now()
		}
		err := in.Messages.ApplyStatus(ctx, sc.TenantID, sc.ChannelID, s.ID, status, at, f)
		switch {
		case err == nil:
			st.Statuses++
		case skippable(err):
			// Not a message of ours (sent from elsewhere, or forgotten).
			st.Skipped++
		default:
			return st, err
		}
	}
	return st, nil
}

// template forwards a template status update.
func (in *Intake) template(ctx context.Context, sc contacts.Scope, u TemplateStatusUpdate) (Stats, error) {
	if in.Templates == nil {
		return Stats{Skipped: 1}, nil
	}
	err := in.Templates.TemplateStatus(ctx, sc.TenantID, sc.ChannelID, u)
	switch {
	case err == nil:
		return Stats{Templates: 1}, nil
	case skippable(err):
		return Stats{Skipped: 1}, nil
	}
	return Stats{}, err
}

// str is a string attribute's value, "" for anything else.
func str(av events.DynamoDBAttributeValue) string {
	if av.DataType() != events.DataTypeString {
		return ""
	}
	return av.String()
}

// binary is a binary attribute's value, nil for anything else.
func binary(av events.DynamoDBAttributeValue) []byte {
	if av.DataType() != events.DataTypeBinary {
		return nil
	}
	return av.Binary()
}

// IntakePorts are what the intake is built from; shared/wiring provides
// them.
type IntakePorts interface {
	ContactStore() contacts.Store
	Phone() contacts.PhoneNormalizer
	Clock() func() time.Time
	WhatsAppMessages() MessageStore
	WhatsAppTemplates() TemplateStatuses
	WhatsAppMarks() Marks
}

// Build wires the intake for Lambda and the local poller.
func Build(p IntakePorts) lambdaapp.StreamHandler {
	in := &Intake{Contacts: &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()},
		Messages: p.WhatsAppMessages(), Templates: p.WhatsAppTemplates(), Marks: p.WhatsAppMarks(), Log: slog.Default()}
	return in.Handle
}

var errNotWired = errors.New("not wired")

// Discard is a MessageStore and TemplateStatuses that records nothing and
// logs what it drops: what the intake is wired with until the message
// store and the template registry are.
type Discard struct{}

// Inbound logs and drops m.
func (Discard) Inbound(ctx context.Context, m messages.Message) (bool, error) {
	slog.WarnContext(ctx, "whatsapp inbound message dropped: no message store", "tenant", m.TenantID, "channel", m.ChannelID, "wamid", m.ProviderID, "err", errNotWired)
	return false, nil
}

// ApplyStatus answers not found: there is no message to move.
func (Discard) ApplyStatus(context.Context, string, string, string, messages.Status, time.Time, *messages.Failure) error {
	return apperr.NotFound("Message", "")
}

// TemplateStatus answers not found: there is no template to change.
func (Discard) TemplateStatus(context.Context, string, string, TemplateStatusUpdate) error {
	return apperr.NotFound("Template", "")
}
