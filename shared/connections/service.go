package connections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Service holds the connection rules on top of a Store.
type Service struct {
	Store Store
	// CheckURL refuses targets the SSRF guard would not dial. An allowed URL
	// whose host is an internationalised name comes back as an error with an
	// ASCIIURL() string method (netguard.IDNError): the form to keep.
	CheckURL func(ctx context.Context, url string) error
	// CustomFields lists the tenant's custom field names (for "fields").
	CustomFields func(ctx context.Context, tenantID string) ([]string, error)
	NewSecret    func() string
	NewID        func() string
	Now          func() time.Time
	// MaxPerChannel is how many connections a channel may have (the
	// stage's limits.ConnectionsPerChannel); 0 is MaxConnectionsPerChannel.
	MaxPerChannel int
}

// Input creates or changes a connection (PUT replaces the given keys).
type Input struct {
	Name     *string   `json:"name"`
	URL      *string   `json:"url"`
	Triggers *[]string `json:"triggers"`
	Fields   *[]string `json:"fields"`
	Enabled  *bool     `json:"enabled"`
}

// SecretGrace is how long a rotated-out secret keeps signing.
const SecretGrace = 24 * time.Hour

// Create makes a connection on a channel; its secret is returned with it.
func (s *Service) Create(ctx context.Context, tenantID, channelID, source string, in Input) (Connection, error) {
	if in.Name == nil || in.URL == nil || in.Triggers == nil {
		return Connection{}, apperr.Invalid("name", "url and triggers are required")
	}
	now := s.Now().Unix()
	c := Connection{ID: s.NewID(), TenantID: tenantID, ChannelID: channelID, Source: source, Enabled: true,
		Secrets: []Secret{{Value: s.NewSecret()}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.Fields == nil {
		in.Fields = &[]string{}
	}
	guard, guarded := s.Store.(ChannelGuard)
	for try := range 8 {
		// The guard's version is read before the count: a create that
		// commits after it (counted or not) makes this one's write fail.
		var seen int64
		if guarded {
			var err error
			if seen, err = guard.ChannelVersion(ctx, tenantID, channelID); err != nil {
				return Connection{}, err
			}
		}
		if err := s.belowLimit(ctx, tenantID, channelID); err != nil {
			return Connection{}, err
		}
		if try == 0 {
			if err := s.apply(ctx, &c, in); err != nil {
				return Connection{}, err
			}
		}
		if !guarded {
			return c, s.Store.CreateConnection(ctx, c)
		}
		if err := guard.CreateConnectionIf(ctx, c, seen); !apperr.Is(err, apperr.KindConflict) {
			return c, err
		}
	}
	return Connection{}, apperr.Conflict("connection")
}

// ChannelGuard is a Store that makes the connections-per-channel limit
// exact: every create on a channel moves the channel's guard version on,
// on the condition that it is the one read before the channel's
// connections were counted, so two concurrent creates cannot both pass the
// count (one is refused, counts again, and finds the limit).
type ChannelGuard interface {
	// ChannelVersion reads the channel's guard version (0: none yet).
	ChannelVersion(ctx context.Context, tenantID, channelID string) (int64, error)
	// CreateConnectionIf writes a new connection and moves the guard of
	// its channel on from seen, in one transaction: an apperr.KindConflict
	// when the guard moved since, an apperr.KindExists when the ID is taken.
	CreateConnectionIf(ctx context.Context, c Connection, seen int64) error
}

// belowLimit rejects a create on a channel that has its limit of
// connections.
func (s *Service) belowLimit(ctx context.Context, tenantID, channelID string) error {
	existing, err := s.Store.ListConnections(ctx, tenantID)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range existing {
		if c.ChannelID == channelID {
			n++
		}
	}
	limit := s.MaxPerChannel
	if limit <= 0 {
		limit = MaxConnectionsPerChannel
	}
	if n >= limit {
		return apperr.Rejected("connections_per_channel",
			fmt.Sprintf("the channel has reached its limit of %d connections; delete one first", limit))
	}
	return nil
}

// Get reads a connection of the channel.
func (s *Service) Get(ctx context.Context, tenantID, channelID, id string) (Connection, error) {
	c, err := s.Store.GetConnection(ctx, tenantID, id)
	if apperr.Is(err, apperr.KindNotFound) || (err == nil && c.ChannelID != channelID) {
		return Connection{}, apperr.NotFound("Connection", id)
	}
	return c, err
}

// List returns the channel's connections.
func (s *Service) List(ctx context.Context, tenantID, channelID string) ([]Connection, error) {
	all, err := s.Store.ListConnections(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := []Connection{}
	for _, c := range all {
		if c.ChannelID == channelID {
			out = append(out, c)
		}
	}
	return out, nil
}

// Update changes the given settings. Switching a connection back on clears
// the reason it was switched off and its failure clock.
func (s *Service) Update(ctx context.Context, tenantID, channelID, id string, in Input) (Connection, error) {
	if in == (Input{}) {
		return Connection{}, apperr.BadRequest("Request body must set at least one of name, url, triggers, fields, enabled.")
	}
	return s.modify(ctx, tenantID, channelID, id, func(c *Connection) error { return s.apply(ctx, c, in) })
}

// modify reads, changes and writes a connection, again when the dispatcher
// (or another edit) changed it in between.
func (s *Service) modify(ctx context.Context, tenantID, channelID, id string, change func(*Connection) error) (Connection, error) {
	for range 5 {
		c, err := s.Get(ctx, tenantID, channelID, id)
		if err != nil {
			return Connection{}, err
		}
		if err := change(&c); err != nil {
			return Connection{}, err
		}
		c.UpdatedAt = s.Now().Unix()
		c.Version++
		if err = s.Store.PutConnection(ctx, c); !apperr.Is(err, apperr.KindConflict) {
			return c, err
		}
	}
	return Connection{}, apperr.Conflict("connection")
}

// Delete removes a connection; deliveries in flight for it are dropped.
func (s *Service) Delete(ctx context.Context, tenantID, channelID, id string) error {
	if _, err := s.Get(ctx, tenantID, channelID, id); err != nil {
		return err
	}
	return s.Store.DeleteConnection(ctx, tenantID, id)
}

// RotateSecret makes a new signing secret; the old one keeps signing for
// SecretGrace, so receivers can accept either while they switch.
func (s *Service) RotateSecret(ctx context.Context, tenantID, channelID, id string) (Connection, error) {
	fresh := s.NewSecret()
	return s.modify(ctx, tenantID, channelID, id, func(c *Connection) error {
		now := s.Now()
		var kept []Secret
		for _, sec := range c.Secrets {
			switch {
			case sec.ExpiresAt == 0:
				sec.ExpiresAt = now.Add(SecretGrace).Unix()
				kept = append(kept, sec)
			case sec.ExpiresAt > now.Unix():
				kept = append(kept, sec)
			}
		}
		c.Secrets = append([]Secret{{Value: fresh}}, kept...)
		return nil
	})
}

// CurrentSecret is the secret new receivers should verify with.
func (c Connection) CurrentSecret() string {
	for _, s := range c.Secrets {
		if s.ExpiresAt == 0 {
			return s.Value
		}
	}
	return ""
}

func (s *Service) apply(ctx context.Context, c *Connection, in Input) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || utf8.RuneCountInString(name) > 200 {
			return apperr.Invalid("name", "must be 1 to 200 characters")
		}
		c.Name = name
	}
	if in.URL != nil {
		u := strings.TrimSpace(*in.URL)
		err := s.CheckURL(ctx, u)
		// The guard allows an internationalised host only in its ASCII
		// (xn--) form, which it checked and hands back: keep that form, so
		// the dispatcher dials exactly what was checked.
		var ascii interface{ ASCIIURL() string }
		if errors.As(err, &ascii) {
			u, err = ascii.ASCIIURL(), nil
		}
		if err != nil {
			return apperr.Rejected("url", err.Error())
		}
		c.URL = u
	}
	if in.Triggers != nil {
		ts, err := parseTriggers(*in.Triggers, triggersOf(c.Source))
		if err != nil {
			return err
		}
		c.Triggers = ts
	}
	if in.Fields != nil {
		fs, err := s.checkFields(ctx, c.TenantID, *in.Fields)
		if err != nil {
			return err
		}
		c.Fields = fs
	}
	if in.Enabled != nil {
		if *in.Enabled && !c.Enabled {
			c.DisabledReason, c.FailingSince = "", 0
		}
		c.Enabled = *in.Enabled
	}
	return nil
}

func parseTriggers(in []string, allowed []Trigger) ([]Trigger, error) {
	if len(in) == 0 {
		return nil, apperr.Invalid("triggers", "must name at least one of "+triggerNames(allowed))
	}
	var out []Trigger
	for i, t := range in {
		tr := Trigger(strings.TrimSpace(t))
		if !slices.Contains(allowed, tr) {
			return nil, apperr.Invalid(fmt.Sprintf("triggers[%d]", i), fmt.Sprintf("must be one of %s, not %q", triggerNames(allowed), t))
		}
		if !slices.Contains(out, tr) {
			out = append(out, tr)
		}
	}
	return out, nil
}

func triggerNames(ts []Trigger) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// checkFields accepts the seed's payload names and the tenant's custom
// field names; an empty list sends every field.
func (s *Service) checkFields(ctx context.Context, tenantID string, in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{}, nil
	}
	custom, err := s.CustomFields(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, f := range in {
		f = strings.TrimSpace(f)
		if !slices.Contains(PayloadFields, f) && !slices.Contains(custom, f) {
			return nil, apperr.Invalid(fmt.Sprintf("fields[%d]", i), fmt.Sprintf("%q is neither a payload field (%s) nor a custom field", f, strings.Join(PayloadFields, ", ")))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
