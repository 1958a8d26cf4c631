package installations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/hours"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Service is the installations' rules on their store.
type Service struct {
	Store Store
	// Phone normalises numbers (nil in the functions that take none).
	Phone Phone
	Now   func() time.Time
	// Poll bounds a long poll's reads of the queue when no write in this
	// process wakes it (PollInterval when 0).
	Poll time.Duration
}

// PollInterval is how often a waiting pull reads its queue when nothing
// in its own process wakes it (a message added, released or a lease
// ended elsewhere).
const PollInterval = 2 * time.Second

// ErrUnauthorized is an unknown UUID or a wrong installation secret (the
// handlers answer it 401).
var ErrUnauthorized = errors.New("Installation UUID or secret is invalid.")

// NewUUID returns a random (version 4) UUID, lower case.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// CanonicalUUID is s in lower case if it has a UUID's form (8-4-4-4-12
// hexadecimal digits), else "".
func CanonicalUUID(s string) string {
	if len(s) != 36 {
		return ""
	}
	s = strings.ToLower(s)
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return ""
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return ""
			}
		}
	}
	return s
}

func notFound(uuid string) error { return apperr.NotFound("Installation", uuid) }

// Create makes an installation on a WhatsApp channel; the secret is
// returned once and stored only as its hash.
func (s *Service) Create(ctx context.Context, tenantID, channelID, country string, in Input) (Installation, string, error) {
	now := s.Now().UnixMilli()
	inst := Installation{UUID: NewUUID(), TenantID: tenantID, ChannelID: channelID, DefaultCountry: strings.ToUpper(country),
		CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&inst, s.Phone, true); err != nil {
		return Installation{}, "", err
	}
	secret, hash := tenancy.NewSecret(SecretPrefix)
	inst.SecretHash = hash
	if err := s.Store.CreateInstallation(ctx, inst); err != nil {
		return Installation{}, "", err
	}
	return inst, secret, nil
}

// Get reads a channel's installation with its last pull.
func (s *Service) Get(ctx context.Context, tenantID, channelID, uuid string) (Installation, error) {
	inst, err := s.own(ctx, tenantID, channelID, uuid)
	if err != nil {
		return Installation{}, err
	}
	return s.withSeen(ctx, inst)
}

func (s *Service) withSeen(ctx context.Context, inst Installation) (Installation, error) {
	seen, err := s.Store.LastSeen(ctx, inst.UUID)
	if err != nil {
		return Installation{}, err
	}
	inst.LastSeenAt = seen
	inst.Online = seen > 0 && s.Now().Sub(time.UnixMilli(seen)) < OnlineFor
	return inst, nil
}

// own reads an installation of the channel; another channel's is not found.
func (s *Service) own(ctx context.Context, tenantID, channelID, uuid string) (Installation, error) {
	id := CanonicalUUID(uuid)
	if id == "" {
		return Installation{}, notFound(uuid)
	}
	inst, err := s.Store.GetInstallation(ctx, id)
	if apperr.Is(err, apperr.KindNotFound) || err == nil && (inst.TenantID != tenantID || inst.ChannelID != channelID) {
		return Installation{}, notFound(uuid)
	}
	return inst, err
}

// List is the channel's installations, oldest first.
func (s *Service) List(ctx context.Context, tenantID, channelID string) ([]Installation, error) {
	list, err := s.Store.ListInstallations(ctx, tenantID, channelID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = s.withSeen(ctx, list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Update changes an installation's settings.
func (s *Service) Update(ctx context.Context, tenantID, channelID, uuid string, in Input) (Installation, error) {
	inst, err := s.own(ctx, tenantID, channelID, uuid)
	if err != nil {
		return Installation{}, err
	}
	if in.Name == nil && in.Numbers == nil && in.UseAPI == nil && in.Hours == nil && in.DefaultCountry == nil {
		return Installation{}, apperr.BadRequest("Nothing to change: give name, numbers, use_api, hours or default_country.")
	}
	if err := in.apply(&inst, s.Phone, false); err != nil {
		return Installation{}, err
	}
	inst.UpdatedAt = s.Now().UnixMilli()
	if err := s.Store.UpdateInstallation(ctx, inst); err != nil {
		return Installation{}, err
	}
	return s.withSeen(ctx, inst)
}

// Authenticate is the installed sender's credential check: the
// installation of uuid whose secret is secret, else ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, uuid, secret string) (Installation, error) {
	id := CanonicalUUID(uuid)
	if id == "" || !strings.HasPrefix(secret, SecretPrefix) || !tenancy.LooksLikeSecret(secret) {
		return Installation{}, ErrUnauthorized
	}
	inst, err := s.Store.GetInstallation(ctx, id)
	if apperr.Is(err, apperr.KindNotFound) {
		return Installation{}, ErrUnauthorized
	}
	if err != nil {
		return Installation{}, err
	}
	if !tenancy.Matches(secret, inst.SecretHash) {
		return Installation{}, ErrUnauthorized
	}
	return inst, nil
}

// Add is seed 004's add_message: the message is queued for the
// installation of req.UUID (held until the next opening outside its
// allowed hours). Nothing is stored on any error.
func (s *Service) Add(ctx context.Context, req AddRequest) (Added, error) {
	id := CanonicalUUID(strings.TrimSpace(req.UUID))
	if id == "" {
		return Added{}, ErrUnauthorized
	}
	inst, err := s.Store.GetInstallation(ctx, id)
	if apperr.Is(err, apperr.KindNotFound) {
		return Added{}, ErrUnauthorized
	}
	if err != nil {
		return Added{}, err
	}
	if !inst.UseAPI {
		return Added{}, apperr.Forbidden("The installation's \"Use API\" setting is off (main menu → settings → API): switch it on to send through the API.")
	}
	if strings.TrimSpace(req.ToMobileNumber) == "" {
		return Added{}, apperr.Invalid("ToMobileNumber", "is required")
	}
	if s.Phone == nil {
		return Added{}, errors.New("installations: no phone normaliser")
	}
	to, err := s.Phone(req.ToMobileNumber, req.ToCountryCode, inst.DefaultCountry)
	if err != nil {
		if req.ToCountryCode != "" {
			return Added{}, apperr.Invalidf("ToMobileNumber", "%q with ToCountryCode %q is not a valid phone number", req.ToMobileNumber, req.ToCountryCode)
		}
		return Added{}, apperr.Invalidf("ToMobileNumber", "%q is not a valid phone number (a full international number, or a local one with ToCountryCode)", req.ToMobileNumber)
	}
	from := ""
	if strings.TrimSpace(req.FromMobileNumber) != "" {
		f, err := s.Phone(req.FromMobileNumber, "", inst.DefaultCountry)
		if err != nil {
			return Added{}, apperr.Invalidf("FromMobileNumber", "%q is not a valid phone number", req.FromMobileNumber)
		}
		found := false
		for _, n := range inst.Numbers {
			found = found || n == f
		}
		if !found {
			return Added{}, apperr.Invalidf("FromMobileNumber", "%q is not one of this installation's numbers", req.FromMobileNumber)
		}
		from = f
	}
	field := req.MessageField
	if field == "" {
		field = "Message"
	}
	text := req.MessageText()
	if strings.TrimSpace(text) == "" {
		return Added{}, apperr.Invalid(field, "is required")
	}
	if !utf8.ValidString(text) {
		return Added{}, apperr.Invalid(field, "is not valid UTF-8 once URL-decoded")
	}
	if n := utf8.RuneCountInString(text); n > messages.MaxTextChars {
		return Added{}, apperr.Invalidf(field, "is %d characters long: at most %d", n, messages.MaxTextChars)
	}
	if req.DownloadLink != "" {
		if err := CheckDownloadLink("DownloadLink", req.DownloadLink); err != nil {
			return Added{}, err
		}
	}
	sched, err := s.Schedule(ctx, inst)
	if err != nil {
		return Added{}, err
	}
	now := s.Now()
	m := messages.Message{
		ID: tenancy.NewID("msg"), TenantID: inst.TenantID, ChannelID: inst.ChannelID, ChannelKind: string(tenancy.WhatsApp),
		Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: to, From: from,
		Status: messages.StatusQueued, InstallationID: inst.UUID, DownloadLink: req.DownloadLink, CreatedAt: now.UnixMilli(),
	}
	e := Entry{MessageID: m.ID, TenantID: m.TenantID, To: to, From: from, Text: text, DownloadLink: req.DownloadLink, CreatedAt: m.CreatedAt}
	var release *scheduler.Due
	out := Added{ID: m.ID, Status: messages.StatusQueued}
	// Without the zone database every zone would read as UTC: fail.
	if _, err := sched.Location(); errors.Is(err, hours.ErrNoZoneData) {
		return Added{}, err
	}
	if open, at := sched.Next(now); !open {
		if at.IsZero() {
			return Added{}, apperr.Rejected("hours", "the installation's allowed hours do not open within a year: the message could never go")
		}
		m.Status, m.HeldUntil, e.HoldUntil = messages.StatusHeld, at.UnixMilli(), at.UnixMilli()
		release = &scheduler.Due{Kind: ReleaseKind, TenantID: m.TenantID, Ref: m.ID, At: at}
		loc, err := sched.Location()
		if err != nil {
			loc = time.UTC // a stored zone the database no longer has
		}
		out.Status, out.Held, out.HeldUntil = messages.StatusHeld, true, at.In(loc).Format(time.RFC3339)
	}
	if _, err := s.Store.Enqueue(ctx, inst.UUID, m, e, release); err != nil {
		return Added{}, err
	}
	if release == nil {
		notify(inst.UUID)
	}
	return out, nil
}

// Pulled is one message handed to the installed sender.
type Pulled struct {
	ID           string `json:"id"`
	Seq          int64  `json:"seq"`
	Lease        string `json:"lease"`
	LeaseUntil   string `json:"lease_until"`
	To           string `json:"to"`
	From         string `json:"from,omitempty"`
	Message      string `json:"message"`
	DownloadLink string `json:"download_link,omitempty"`
	CreatedAt    string `json:"created_at"`
}

// Pull hands out up to max messages from the head of the installation's
// queue, leased for lease, waiting up to wait for the first one. It marks
// the installation seen.
func (s *Service) Pull(ctx context.Context, inst Installation, limit int, wait, lease time.Duration) ([]Pulled, error) {
	if err := s.Store.Seen(ctx, inst.UUID, s.Now()); err != nil {
		return nil, err
	}
	poll := s.Poll
	if poll <= 0 {
		poll = PollInterval
	}
	deadline := time.Now().Add(wait)
	for {
		wake := waiter(inst.UUID) // before the read: a write after it wakes this pull
		out, next, err := s.tryPull(ctx, inst, limit, lease)
		if err != nil || len(out) > 0 {
			return out, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return []Pulled{}, nil
		}
		d := min(left, poll)
		if !next.IsZero() {
			d = min(d, max(next.Sub(s.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return []Pulled{}, nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// tryPull is one read of the queue's head: the messages leased, or none
// and when the head may change by itself (a lease ends, a hold is due).
func (s *Service) tryPull(ctx context.Context, inst Installation, max int, lease time.Duration) ([]Pulled, time.Time, error) {
	head, err := s.Store.Head(ctx, inst.UUID, max)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := s.Now()
	var take []Entry
	var next time.Time
	for _, e := range head {
		if e.Acked != "" {
			// Acked, and the ack did not finish (it failed or is under
			// way): finish it, and go on past it.
			if err := s.Store.Finish(ctx, inst.UUID, e); err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
		if e.HoldUntil != 0 {
			if e.HoldUntil > now.UnixMilli() {
				next = time.UnixMilli(e.HoldUntil)
				break
			}
			// Due and not yet released by the scheduler: release it now
			// (the same idempotent release).
			if _, _, err := s.Store.Release(ctx, e.TenantID, e.MessageID); err != nil {
				return nil, time.Time{}, err
			}
			e.HoldUntil = 0
		}
		if e.LeaseUntil > now.UnixMilli() {
			next = time.UnixMilli(e.LeaseUntil)
			break // head-of-line: nothing after a leased message
		}
		take = append(take, e)
	}
	if len(take) == 0 {
		return nil, next, nil
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	until := now.Add(lease)
	for i := range take {
		take[i].Lease = strconv.FormatInt(take[i].Seq, 10) + "." + token
	}
	n, err := s.Store.Lease(ctx, inst.UUID, take, token, now, until)
	if err != nil || n == 0 {
		return nil, time.Time{}, err // another pull got there first: read again
	}
	take = take[:n]
	out := make([]Pulled, len(take))
	for i, e := range take {
		out[i] = Pulled{ID: e.MessageID, Seq: e.Seq, Lease: e.Lease, LeaseUntil: until.UTC().Format(time.RFC3339Nano), To: e.To, From: e.From,
			Message: e.Text, DownloadLink: e.DownloadLink, CreatedAt: time.UnixMilli(e.CreatedAt).UTC().Format(time.RFC3339Nano)}
	}
	return out, time.Time{}, nil
}

// Acked is an ack's answer.
type Acked struct {
	ID     string          `json:"id"`
	Status messages.Status `json:"status"`
}

// AckInput is one ack as the installed sender gives it.
type AckInput struct {
	// ID is the message's id (in the path of a single ack).
	ID string `json:"id,omitempty"`
	// Lease is the message's lease, as the pull gave it.
	Lease string `json:"lease"`
	// Status is sent or failed.
	Status string `json:"status"`
	// Error says why a failed message failed.
	Error string `json:"error,omitempty"`
}

// item validates an ack; field prefixes the names in its errors.
func (in AckInput) item(field string) (AckItem, error) {
	seqText, _, ok := strings.Cut(in.Lease, ".")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq <= 0 || len(in.Lease) > 64 {
		return AckItem{}, apperr.Invalid(field+"lease", "is not a lease from a pull (pass the message's lease as it was given)")
	}
	a := AckItem{ID: in.ID, Seq: seq, Lease: in.Lease}
	switch in.Status {
	case "sent":
		a.Status = messages.StatusSent
		if in.Error != "" {
			return AckItem{}, apperr.Invalid(field+"error", "is for failed messages only")
		}
	case "failed":
		a.Status = messages.StatusFailed
		if utf8.RuneCountInString(in.Error) > MaxErrorChars {
			return AckItem{}, apperr.Invalidf(field+"error", "at most %d characters", MaxErrorChars)
		}
		text := in.Error
		if strings.TrimSpace(text) == "" {
			text = "The installed sender could not send the message."
		}
		a.Failure = &messages.Failure{Code: "installation", Message: text}
	default:
		return AckItem{}, apperr.Invalidf(field+"status", "must be sent or failed, not %q", in.Status)
	}
	return a, nil
}

// Ack ends one leased message: status "sent" or "failed" (with errText).
func (s *Service) Ack(ctx context.Context, inst Installation, messageID, lease, status, errText string) (Acked, error) {
	a, err := AckInput{ID: messageID, Lease: lease, Status: status, Error: errText}.item("")
	if err != nil {
		return Acked{}, err
	}
	m, err := s.Store.Ack(ctx, inst.TenantID, inst.UUID, messageID, a.Seq, a.Lease, a.Status, a.Failure, s.Now())
	if err != nil {
		return Acked{}, err
	}
	notify(inst.UUID) // the head moved: a waiting pull may take the next
	return Acked{ID: m.ID, Status: m.Status}, nil
}

// AckResult is one ack's outcome in a batch: the message's status, or the
// error (with the status code a single ack would have got).
type AckResult struct {
	ID     string          `json:"id"`
	Status messages.Status `json:"status,omitempty"`
	Code   int             `json:"code"`
	Error  string          `json:"error,omitempty"`
}

// AckMany ends up to MaxAcks leased messages, each as Ack, with its own
// result.
func (s *Service) AckMany(ctx context.Context, inst Installation, in []AckInput) ([]AckResult, error) {
	if len(in) == 0 || len(in) > MaxAcks {
		return nil, apperr.Invalidf("acks", "must hold 1 to %d acks", MaxAcks)
	}
	items := make([]AckItem, len(in))
	seen := map[string]bool{}
	for i, a := range in {
		field := fmt.Sprintf("acks[%d].", i)
		if a.ID == "" || !strings.HasPrefix(a.ID, "msg_") || len(a.ID) > 68 {
			return nil, apperr.Invalid(field+"id", "must be a message id from a pull")
		}
		if seen[a.ID] {
			return nil, apperr.Invalid(field+"id", "is acked twice in this batch")
		}
		seen[a.ID] = true
		it, err := a.item(field)
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	errs, err := s.Store.AckMany(ctx, inst.TenantID, inst.UUID, items, s.Now())
	if err != nil {
		return nil, err
	}
	out := make([]AckResult, len(items))
	for i, a := range items {
		switch ae, ok := apperr.As(errs[i]); {
		case errs[i] == nil:
			out[i] = AckResult{ID: a.ID, Status: a.Status, Code: 200}
		case ok && ae.Kind == apperr.KindConflict:
			out[i] = AckResult{ID: a.ID, Code: 409, Error: ae.Message}
		case ok && ae.Kind == apperr.KindNotFound:
			out[i] = AckResult{ID: a.ID, Code: 404, Error: ae.Message}
		default:
			return nil, errs[i]
		}
	}
	notify(inst.UUID)
	return out, nil
}

// Release is the scheduler's handler of ReleaseKind: the held message d.Ref
// becomes queued and pullable in its place in the queue. It is idempotent:
// a message already released, acked or gone is left as it is.
func (s *Service) Release(ctx context.Context, d scheduler.Due) error {
	if d.Kind != ReleaseKind {
		return fmt.Errorf("installations: a due item of kind %q is not a release", d.Kind)
	}
	uuid, changed, err := s.Store.Release(ctx, d.TenantID, d.Ref)
	if err != nil {
		return err
	}
	if changed {
		notify(uuid)
	}
	return nil
}

// Waiters of this process, by installation: a write here (a message
// added, released or acked) wakes the pulls waiting on the same queue at
// once; pulls in other processes see it at their next poll.
var (
	waitMu  sync.Mutex
	waiters = map[string]chan struct{}{}
)

// waiter is a channel closed by the installation's next notify.
func waiter(uuid string) <-chan struct{} {
	waitMu.Lock()
	defer waitMu.Unlock()
	ch, ok := waiters[uuid]
	if !ok {
		ch = make(chan struct{})
		waiters[uuid] = ch
	}
	return ch
}

func notify(uuid string) {
	waitMu.Lock()
	defer waitMu.Unlock()
	if ch, ok := waiters[uuid]; ok {
		close(ch)
		delete(waiters, uuid)
	}
}
