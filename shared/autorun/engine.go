package autorun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Caller calls a connection with a contact's payload, as a trigger would:
// the delivery goes the dispatcher's road (signed, retried, logged).
// deliveryID is derived from the run and its step: the same step calls
// with the same ID, which receivers drop as a repeat.
type Caller interface {
	CallConnection(ctx context.Context, c contacts.Contact, connectionID, deliveryID string) error
}

// Engine executes runs: Handle is the scheduler's handler of
// automations.StepKind.
type Engine struct {
	Runs        automations.RunStore
	Automations automations.Store
	Contacts    *contacts.Service
	// Messages stores a send_message node's message, queued: the messaging
	// pipeline sends it (its stream record goes to the outbox).
	Messages  messages.Store
	Channels  func(ctx context.Context, tenantID, channelID string) (tenancy.Channel, error)
	Templates messages.Templates
	// Calls takes call_connection nodes; nil: such a step fails.
	Calls Caller
	// Zone loads an IANA time zone (time.LoadLocation); nil: UTC only.
	Zone func(name string) (*time.Location, error)
	Now  func() time.Time
	Log  *slog.Logger

	// MaxAttempts is how often a node is tried before the run fails
	// (DefaultMaxAttempts); RetryDelay the wait before try n+1 after n
	// failures (DefaultRetryDelay).
	MaxAttempts int
	RetryDelay  func(failures int) time.Duration
	// MaxBurst bounds the nodes one release executes without a wait
	// (DefaultMaxBurst); the run goes on with a due item at once.
	MaxBurst int
	// Load, when set, reads a step's run, its automation and its contact
	// at once (ddbstore.StepReads.Load: strongly consistent; nil: not
	// there, or a contact under its old key); without it, or for a due
	// item that does not name the automation, they are read one after
	// another.
	Load func(ctx context.Context, tenantID, channelID, contactID, runID, automationID string) (*automations.Run, *automations.Automation, *contacts.Contact, error)
}

// Defaults of the engine's settings.
const (
	DefaultMaxAttempts = 3
	DefaultMaxBurst    = 20
)

// DefaultRetryDelay is 30 s, doubling.
func DefaultRetryDelay(failures int) time.Duration {
	return 30 * time.Second << min(max(failures-1, 0), 10)
}

func (e *Engine) settings() Engine {
	c := *e
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryDelay == nil {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxBurst <= 0 {
		c.MaxBurst = DefaultMaxBurst
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Templates == nil {
		c.Templates = messages.AnyTemplate{}
	}
	return c
}

// Handle advances the run of a step's due item: it does nothing for an
// ended run or a due item that is not the run's current one (replayed),
// stops the run if its automation is off or gone, and executes nodes up
// to the next wait, the run's end, a failure or MaxBurst nodes. An error
// (a store failure, or another release that moved the run first) leaves
// the due item to the scheduler, which releases it again later.
//
// Writes. A node with an effect (a contact write, a message, a call) is
// recorded in a write of the run of its own, whose Seq names its effects;
// the nodes without one that follow it (a condition, a wait) are
// recorded in that same write, so a release that adds a tag and starts a
// wait writes the run once. A step is never recorded in a write after a
// later node's effect: a retry of a release that died in between would
// evaluate it again on what that effect changed. The write that hands the
// run on to its next due item, or ends it, also deletes the due item
// being released (the scheduler then does not: scheduler.MarkCompleted).
func (e *Engine) Handle(ctx context.Context, d scheduler.Due) error {
	c := e.settings()
	p, err := parsePayload(d)
	if err != nil {
		c.Log.ErrorContext(ctx, "automation step: dropped", "err", err)
		return nil // nothing a retry could do
	}
	var (
		run    automations.Run
		loaded bool                    // Load read the automation and the contact too
		la     *automations.Automation // what Load read (nil: not there)
		lc     *contacts.Contact
	)
	if c.Load != nil && p.Auto != "" {
		r, a, ct, err := c.Load(ctx, d.TenantID, p.Channel, p.Contact, p.Run, p.Auto)
		if err != nil {
			return err
		}
		if r == nil {
			err = apperr.NotFound("Run", p.Run)
		} else {
			run, loaded, la, lc = *r, r.AutomationID == p.Auto, a, ct
		}
	} else {
		run, err = c.Runs.GetRun(ctx, d.TenantID, p.Channel, p.Contact, p.Run)
	}
	if apperr.Is(err, apperr.KindNotFound) {
		c.Log.WarnContext(ctx, "automation step: no such run", "ref", d.Ref)
		return nil
	}
	if err != nil {
		return err
	}
	if !run.Active() || run.DueRef != d.Ref {
		return nil // ended, or an old due item released again
	}
	var a automations.Automation
	switch {
	case !loaded:
		a, err = c.Automations.GetAutomation(ctx, run.TenantID, run.AutomationID)
	case la == nil:
		err = apperr.NotFound("Automation", run.AutomationID)
	default:
		a = *la
	}
	switch {
	case apperr.Is(err, apperr.KindNotFound):
		return c.end(ctx, d, run, automations.RunStopped, "the automation was deleted")
	case err != nil:
		return err
	case !a.On:
		return c.end(ctx, d, run, automations.RunStopped, "the automation was switched off")
	}
	sc := contacts.Scope{TenantID: run.TenantID, ChannelID: run.ChannelID}
	var ct contacts.Contact
	if lc != nil {
		ct = *lc
	} else {
		// Not read by Load, or not under its own key: read the usual way.
		ct, err = c.Contacts.Get(ctx, sc, run.ContactID)
		if apperr.Is(err, apperr.KindNotFound) {
			return c.end(ctx, d, run, automations.RunFailed, "the contact was deleted")
		}
		if err != nil {
			return err
		}
	}
	now := c.Now()
	cur, next := run, successor(run, now) // the run as stored; its next write
	pending := false                      // next records steps not written yet
	for n := 1; ; n++ {
		if next.Node == "" {
			finish(&next, automations.RunCompleted, "", now)
			return c.save(ctx, d, cur, next, nil)
		}
		if len(next.Steps) >= automations.MaxSteps {
			finish(&next, automations.RunFailed, fmt.Sprintf("the run took %d steps, the most a run may (a condition that loops?)", automations.MaxSteps), now)
			return c.save(ctx, d, cur, next, nil)
		}
		node, ok := a.Node(next.Node)
		if !ok {
			finish(&next, automations.RunFailed, fmt.Sprintf("node %q is no longer in the automation", next.Node), now)
			return c.save(ctx, d, cur, next, nil)
		}
		if pending && hasEffect(node.Type) {
			// The steps so far are recorded before this node's effect (its
			// own write's Seq names it).
			if err := c.Runs.SaveRun(ctx, cur, next, nil, nil); err != nil {
				return err
			}
			cur, next, pending = next, successor(next, c.Now()), false
		}
		now = c.Now()
		step := automations.Step{Node: node.ID, Type: node.Type, Attempt: next.Attempt + 1, At: now.UnixMilli()}
		res, err := c.exec(ctx, &ct, a, node, next, now)
		if err != nil {
			step.Error = clip(message(err))
			if step.Attempt < c.MaxAttempts {
				step.Outcome = "retry"
				next.Attempt = step.Attempt
				next.Steps = append(next.Steps, step)
				due := DueFor(next, now.Add(c.RetryDelay(step.Attempt)))
				next.DueRef = due.Ref
				return c.save(ctx, d, cur, next, &due)
			}
			step.Outcome = "failed"
			next.Steps = append(next.Steps, step)
			finish(&next, automations.RunFailed, fmt.Sprintf("node %s (%s) failed %d times: %s", node.ID, node.Type, step.Attempt, step.Error), now)
			return c.save(ctx, d, cur, next, nil)
		}
		step.Outcome, step.Detail = "ok", res.detail
		next.Attempt = 0
		next.Steps = append(next.Steps, step)
		next.Node = res.next
		pending = true
		var due *scheduler.Due
		switch {
		case !res.until.IsZero():
			next.WaitUntil = res.until.UnixMilli()
			d := DueFor(next, res.until)
			due = &d
		case next.Node == "":
			finish(&next, automations.RunCompleted, "", now)
		case n >= c.MaxBurst:
			d := DueFor(next, now) // the rest in a release of its own
			due = &d
		}
		if due != nil {
			next.DueRef = due.Ref
		}
		if due != nil || !next.Active() {
			return c.save(ctx, d, cur, next, due)
		}
	}
}

// hasEffect reports whether a node of type t changes something outside
// the run (a contact, a message, a call); a condition and a wait do not.
func hasEffect(t automations.NodeType) bool {
	return t != automations.NodeCondition && t != automations.NodeWait
}

// save writes next over prev with due, a write that hands the run on to
// due or ends it: it also deletes d, the due item being released, and
// tells the scheduler so.
func (e *Engine) save(ctx context.Context, d scheduler.Due, prev, next automations.Run, due *scheduler.Due) error {
	if err := e.Runs.SaveRun(ctx, prev, next, due, &d); err != nil {
		return err
	}
	scheduler.MarkCompleted(ctx)
	return nil
}

// successor is r's next write: Seq moved on, its wait over, the steps
// copied (a run's steps are never shared between its versions).
func successor(r automations.Run, now time.Time) automations.Run {
	n := r
	n.Seq++
	n.WaitUntil = 0
	n.UpdatedAt = now.UnixMilli()
	n.Steps = append(make([]automations.Step, 0, len(r.Steps)+1), r.Steps...)
	return n
}

func finish(r *automations.Run, s automations.RunStatus, msg string, now time.Time) {
	r.Status, r.Error, r.Node, r.WaitUntil, r.DueRef = s, msg, "", 0, ""
	r.EndedAt = now.UnixMilli()
}

// end ends run with status s (and why, for a stop or a failure), released
// by d.
func (e *Engine) end(ctx context.Context, d scheduler.Due, run automations.Run, s automations.RunStatus, why string) error {
	now := e.Now()
	next := successor(run, now)
	finish(&next, s, why, now)
	return e.save(ctx, d, run, next, nil)
}

// result is what a node did: its detail, the node after it ("": the run
// ends) and, for a wait, when the run goes on.
type result struct {
	detail string
	next   string
	until  time.Time
}

// exec executes node for ct (updated in place by a contact write). next
// is the run's write that will record the step (its Seq names the
// step's effects).
func (e *Engine) exec(ctx context.Context, ct *contacts.Contact, a automations.Automation, node automations.Node, next automations.Run, now time.Time) (result, error) {
	res := result{next: a.Next(node.ID)}
	sc := contacts.Scope{TenantID: ct.TenantID, ChannelID: ct.ChannelID}
	switch node.Type {
	case automations.NodeWait:
		until, err := e.waitUntil(*ct, node, now)
		if err != nil {
			return res, err
		}
		res.until, res.detail = until, "until "+until.UTC().Format(time.RFC3339)
		return res, nil
	case automations.NodeAddTag, automations.NodeRemoveTag:
		// The contact as this release read it (or last wrote it): read
		// again only if it changed since.
		op := e.Contacts.AddTagsFrom
		if node.Type == automations.NodeRemoveTag {
			op = e.Contacts.RemoveTagsFrom
		}
		c, err := op(ctx, sc, *ct, []string{node.Tag})
		if err != nil {
			return res, err
		}
		*ct, res.detail = c, node.Tag
		return res, nil
	case automations.NodeSetField:
		v, _ := json.Marshal(node.Value)
		c, err := e.Contacts.UpdateFrom(ctx, sc, *ct, []contacts.Input{{Name: node.Field, Value: v}}, nil)
		if err != nil {
			return res, err
		}
		*ct, res.detail = c, node.Field+"="+node.Value
		return res, nil
	case automations.NodeCondition:
		match, err := e.matches(ctx, *ct, node)
		if err != nil {
			return res, err
		}
		if match {
			res.next, res.detail = node.Then, "then"
		} else {
			res.next, res.detail = node.Else, "else"
		}
		if res.next != "" {
			res.detail += " → " + res.next
		}
		return res, nil
	case automations.NodeSendMessage:
		id, err := e.send(ctx, *ct, node, next, now)
		res.detail = id
		return res, err
	case automations.NodeCallConnection:
		if e.Calls == nil {
			return res, errors.New("calling a connection is not available here")
		}
		id := tenancy.DerivedID("msg", next.TenantID, next.ID, strconv.FormatInt(next.Seq, 10), "call")
		if err := e.Calls.CallConnection(ctx, *ct, node.ConnectionID, id); err != nil {
			return res, err
		}
		res.detail = id
		return res, nil
	}
	return res, fmt.Errorf("unknown node type %q", node.Type)
}

// matches evaluates a condition node on the contact's field.
func (e *Engine) matches(ctx context.Context, c contacts.Contact, n automations.Node) (bool, error) {
	var v string
	if _, ok := contacts.StandardByName(n.Field); ok {
		v = c.Fields[n.Field]
	} else {
		v = c.Custom[n.Field]
	}
	v, want := strings.ToLower(strings.TrimSpace(v)), strings.ToLower(strings.TrimSpace(n.Value))
	switch n.Op {
	case automations.OpEquals:
		return v != "" && v == want, nil
	case automations.OpNotEquals:
		return v != want, nil
	case automations.OpContains:
		return v != "" && strings.Contains(v, want), nil
	case automations.OpIsSet:
		return v != "", nil
	case automations.OpIsNotSet:
		return v == "", nil
	}
	return false, fmt.Errorf("unknown condition operator %q", n.Op)
}

// send stores a send_message node's message, queued, under an ID derived
// from the run and the step's write (a repeat finds it stored), with the
// checks of POST /v1/messages: the channel can send, the contact has a
// number, an SMS or call's text limits, WhatsApp's 24-hour window for
// free-form text and its template registry for templates.
func (e *Engine) send(ctx context.Context, c contacts.Contact, n automations.Node, next automations.Run, now time.Time) (string, error) {
	ch, err := e.Channels(ctx, c.TenantID, n.ChannelID)
	if apperr.Is(err, apperr.KindNotFound) {
		return "", fmt.Errorf("channel %q not found", n.ChannelID)
	}
	if err != nil {
		return "", err
	}
	phoneKind := ch.Kind == tenancy.SMS || ch.Kind == tenancy.Voice
	if ch.Kind != tenancy.WhatsApp && !phoneKind {
		return "", fmt.Errorf("channel %q is a %s channel: messages go out on WhatsApp, SMS and voice channels only", n.ChannelID, ch.Kind)
	}
	to := c.Fields["phone"]
	if to == "" {
		return "", errors.New("the contact has no phone number to send to")
	}
	m := messages.Message{
		ID: tenancy.DerivedID("msg", next.TenantID, next.ID, strconv.FormatInt(next.Seq, 10)), TenantID: c.TenantID,
		ChannelID: ch.ID, ChannelKind: string(ch.Kind), Direction: messages.Outbound, Status: messages.StatusQueued,
		To: to, ContactID: contacts.PhoneContactID(to), CreatedAt: now.UnixMilli(),
	}
	if c.ChannelID == ch.ID {
		m.ContactID = c.ID
	}
	if n.Template != nil {
		if phoneKind {
			return "", fmt.Errorf("a %s channel sends text, not templates", ch.Kind)
		}
		m.Type = messages.TypeTemplate
		m.Template = &messages.Template{Name: n.Template.Name, Language: n.Template.Language, Params: n.Template.Params}
		if err := e.Templates.CheckTemplate(ctx, c.TenantID, ch.ID, *m.Template); err != nil {
			return "", err
		}
	} else {
		m.Type, m.Text = messages.TypeText, &messages.Text{Body: n.Text}
		if phoneKind {
			if err := messages.CheckPhoneText(string(ch.Kind), "text", n.Text); err != nil {
				return "", err
			}
			if !tenancy.E164(to) {
				return "", fmt.Errorf("the contact's number %q is not E.164", to)
			}
		} else {
			last, err := e.Messages.LastInbound(ctx, c.TenantID, ch.ID, to)
			if err != nil {
				return "", err
			}
			if c.ChannelID == ch.ID {
				last = max(last, c.LastInbound[ch.ID]*1000)
			}
			if !messages.InWindow(last, now) {
				return "", messages.WindowClosed()
			}
		}
	}
	if err := e.Messages.CreateMessage(ctx, m); err != nil && !apperr.Is(err, apperr.KindExists) {
		return "", err
	}
	return m.ID, nil
}

// waitUntil is when a wait node ends: Seconds after now, or the next
// Until (HH:MM) in the contact's time zone (its timezone field: an IANA
// name, or an offset in hours such as 5.5 or -7; UTC without one).
func (e *Engine) waitUntil(c contacts.Contact, n automations.Node, now time.Time) (time.Time, error) {
	if n.Until == "" {
		if n.Seconds <= 0 {
			return time.Time{}, fmt.Errorf("a wait of %d seconds", n.Seconds)
		}
		return now.Add(time.Duration(n.Seconds) * time.Second), nil
	}
	hm, err := time.Parse("15:04", n.Until)
	if err != nil {
		return time.Time{}, fmt.Errorf("until %q is not HH:MM", n.Until)
	}
	loc := e.location(c.Fields["timezone"])
	local := now.In(loc)
	t := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	if !t.After(now) {
		t = time.Date(local.Year(), local.Month(), local.Day()+1, hm.Hour(), hm.Minute(), 0, 0, loc)
	}
	return t, nil
}

// location reads a contact's timezone field; UTC when it says nothing
// usable.
func (e *Engine) location(tz string) *time.Location {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return time.UTC
	}
	if h, err := strconv.ParseFloat(strings.TrimPrefix(tz, "+"), 64); err == nil && h >= -14 && h <= 14 {
		return time.FixedZone(tz, int(h*3600))
	}
	if sign, rest := tz[0], tz[1:]; (sign == '+' || sign == '-') && len(rest) == 5 && rest[2] == ':' {
		if hm, err := time.Parse("15:04", rest); err == nil {
			off := hm.Hour()*3600 + hm.Minute()*60
			if sign == '-' {
				off = -off
			}
			return time.FixedZone(tz, off)
		}
	}
	if e.Zone != nil {
		if loc, err := e.Zone(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}

// message is what a step records of err: an apperr's sentence, else the
// error.
func message(err error) string {
	if ae, ok := apperr.As(err); ok && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}

func clip(s string) string {
	const most = 500
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
