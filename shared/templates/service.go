package templates

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Store keeps templates, one per (channel, name, language).
type Store interface {
	// CreateTemplate writes a new template; a template with the same name
	// and language on the channel is an apperr.KindExists.
	CreateTemplate(ctx context.Context, t Template) error
	// GetTemplate reads a template of the channel by ID (KindNotFound).
	GetTemplate(ctx context.Context, tenantID, channelID, id string) (Template, error)
	// FindTemplate reads a template of the channel by name and language
	// (KindNotFound).
	FindTemplate(ctx context.Context, tenantID, channelID, name, language string) (Template, error)
	// ListTemplates reads the channel's templates, by name then language.
	ListTemplates(ctx context.Context, tenantID, channelID string) ([]Template, error)
	// PutTemplate replaces a template whose Version is still t.Version-1
	// (KindConflict otherwise, KindNotFound when it is gone).
	PutTemplate(ctx context.Context, t Template) error
	// DeleteTemplate removes a template.
	DeleteTemplate(ctx context.Context, t Template) error
}

// Submitter hands templates to the provider for review (Meta's
// POST /{waba_id}/message_templates) and withdraws deleted ones. Its errors
// are apperr kinds: the provider's refusal of the template is
// KindInvalid or KindRejected with the provider's message.
type Submitter interface {
	// Submit submits a new or edited template; it answers the provider's
	// ID of it ("" if the provider gives none).
	Submit(ctx context.Context, t Template) (providerID string, err error)
	// Withdraw deletes a template at the provider.
	Withdraw(ctx context.Context, t Template) error
}

// LocalOnly is the Submitter of a deployment without a provider: templates
// are kept, stay PENDING until a status update says otherwise, and nothing
// is sent anywhere.
type LocalOnly struct{}

// Submit accepts the template as it is.
func (LocalOnly) Submit(context.Context, Template) (string, error) { return "", nil }

// Withdraw does nothing.
func (LocalOnly) Withdraw(context.Context, Template) error { return nil }

// Service holds the registry's rules on a Store.
type Service struct {
	Store     Store
	Submitter Submitter
	NewID     func() string
	Now       func() time.Time
}

// Create validates a new template, stores it PENDING and submits it; a
// template the provider refuses is not kept.
func (s *Service) Create(ctx context.Context, tenantID, channelID string, in Input) (Template, error) {
	for _, req := range []struct {
		name string
		set  bool
	}{{"name", in.Name != nil}, {"language", in.Language != nil}, {"category", in.Category != nil}, {"components", in.Components != nil}} {
		if !req.set {
			return Template{}, apperr.Invalid(req.name, "is required")
		}
	}
	now := s.Now().Unix()
	t := Template{ID: s.NewID(), TenantID: tenantID, ChannelID: channelID, Status: StatusPending, CreatedAt: now, UpdatedAt: now, Version: 1}
	t.Name = strings.TrimSpace(*in.Name)
	if err := CheckName("name", t.Name); err != nil {
		return Template{}, err
	}
	t.Language = strings.TrimSpace(*in.Language)
	if err := CheckLanguage("language", t.Language); err != nil {
		return Template{}, err
	}
	if in.Namespace != nil {
		t.Namespace = strings.TrimSpace(*in.Namespace)
		if err := CheckNamespace("namespace", t.Namespace); err != nil {
			return Template{}, err
		}
	}
	var err error
	if t.Category, err = parseCategory(*in.Category); err != nil {
		return Template{}, err
	}
	if t.Components, t.BodyParams, err = checkComponents(*in.Components, t.Category); err != nil {
		return Template{}, err
	}
	if err := s.Store.CreateTemplate(ctx, t); err != nil {
		return Template{}, err
	}
	pid, err := s.Submitter.Submit(ctx, t)
	if err != nil {
		if derr := s.Store.DeleteTemplate(ctx, t); derr != nil {
			return Template{}, fmt.Errorf("%w (and removing it: %v)", err, derr)
		}
		return Template{}, err
	}
	if pid != "" {
		return s.modify(ctx, tenantID, channelID, t.ID, func(x *Template) error { x.ProviderID = pid; return nil })
	}
	return t, nil
}

// Get reads a template of the channel.
func (s *Service) Get(ctx context.Context, tenantID, channelID, id string) (Template, error) {
	return s.Store.GetTemplate(ctx, tenantID, channelID, id)
}

// List returns the channel's templates, those of one status when status
// is not "".
func (s *Service) List(ctx context.Context, tenantID, channelID string, status Status) ([]Template, error) {
	all, err := s.Store.ListTemplates(ctx, tenantID, channelID)
	if err != nil {
		return nil, err
	}
	out := []Template{}
	for _, t := range all {
		if status == "" || t.Status == status {
			out = append(out, t)
		}
	}
	return out, nil
}

// Update edits a template as Meta allows: its name and language are what
// it is (a new pair is a new template); a PENDING template waits for its
// review; an APPROVED one keeps its category and may be edited once per
// 24 hours. An edit is submitted again and goes back to PENDING.
func (s *Service) Update(ctx context.Context, tenantID, channelID, id string, in Input) (Template, error) {
	if in == (Input{}) {
		return Template{}, apperr.BadRequest("Request body must set at least one of namespace, category, components.")
	}
	t, err := s.modify(ctx, tenantID, channelID, id, func(t *Template) error {
		if in.Name != nil && strings.TrimSpace(*in.Name) != t.Name {
			return apperr.Invalidf("name", "cannot change (it is %q): a template with another name is a new template", t.Name)
		}
		if in.Language != nil && strings.TrimSpace(*in.Language) != t.Language {
			return apperr.Invalidf("language", "cannot change (it is %q): a template in another language is a new template", t.Language)
		}
		now := s.Now()
		switch t.Status {
		case StatusPending:
			return apperr.Rejected("status", "the template is PENDING review and can be edited once it is APPROVED, REJECTED or PAUSED")
		case StatusDisabled:
			return apperr.Rejected("status", "the template is DISABLED and cannot be edited")
		case StatusApproved:
			if since := now.Sub(time.Unix(t.EditedAt, 0)); t.EditedAt > 0 && since < EditInterval {
				return apperr.Rejected("status", fmt.Sprintf("an APPROVED template may be edited once per 24 hours; the next edit is allowed at %s",
					time.Unix(t.EditedAt, 0).Add(EditInterval).UTC().Format(time.RFC3339)))
			}
		}
		if in.Namespace != nil {
			ns := strings.TrimSpace(*in.Namespace)
			if err := CheckNamespace("namespace", ns); err != nil {
				return err
			}
			t.Namespace = ns
		}
		if in.Category != nil {
			c, err := parseCategory(*in.Category)
			if err != nil {
				return err
			}
			if c != t.Category && t.Status == StatusApproved {
				return apperr.Rejected("category", fmt.Sprintf("an APPROVED template keeps its category (%s)", t.Category))
			}
			t.Category = c
		}
		comps := t.Components
		if in.Components != nil {
			comps = *in.Components
		}
		var err error
		if t.Components, t.BodyParams, err = checkComponents(comps, t.Category); err != nil {
			return err
		}
		if t.Status == StatusApproved {
			t.EditedAt = now.Unix()
		}
		t.Status, t.Reason = StatusPending, ""
		return nil
	})
	if err != nil {
		return Template{}, err
	}
	if _, err := s.Submitter.Submit(ctx, t); err != nil {
		return Template{}, err
	}
	return t, nil
}

// Delete removes a template from the registry and the provider.
func (s *Service) Delete(ctx context.Context, tenantID, channelID, id string) error {
	t, err := s.Store.GetTemplate(ctx, tenantID, channelID, id)
	if err != nil {
		return err
	}
	if err := s.Submitter.Withdraw(ctx, t); err != nil {
		return err
	}
	return s.Store.DeleteTemplate(ctx, t)
}

// SetStatus records a review result from the provider's template status
// webhook (message_template_status_update): the template of the channel
// with this name and language moves to status, with reason (Meta's
// rejected reason, or why it was paused or disabled; "NONE" is no reason).
// An unknown template is KindNotFound (made elsewhere, or deleted here).
func (s *Service) SetStatus(ctx context.Context, tenantID, channelID, name, language string, status Status, reason string) error {
	t, err := s.Store.FindTemplate(ctx, tenantID, channelID, name, language)
	if err != nil {
		return err
	}
	if reason == "NONE" || status == StatusApproved || status == StatusPending {
		reason = ""
	}
	_, err = s.modify(ctx, tenantID, channelID, t.ID, func(t *Template) error {
		t.Status, t.Reason = status, strings.TrimSpace(reason)
		return nil
	})
	return err
}

// modify reads, changes and writes a template, again when another write
// got there in between.
func (s *Service) modify(ctx context.Context, tenantID, channelID, id string, change func(*Template) error) (Template, error) {
	for range 5 {
		t, err := s.Store.GetTemplate(ctx, tenantID, channelID, id)
		if err != nil {
			return Template{}, err
		}
		if err := change(&t); err != nil {
			return Template{}, err
		}
		t.UpdatedAt = s.Now().Unix()
		t.Version++
		if err = s.Store.PutTemplate(ctx, t); !apperr.Is(err, apperr.KindConflict) {
			return t, err
		}
	}
	return Template{}, apperr.Conflict("template")
}

// Lookup finds the template a send names and checks that it may be sent:
// unknown (by name and language, and namespace when the send gives one)
// is KindNotFound, not APPROVED is KindRejected, each with a message that
// says which. CheckParams then checks the parameters.
func (s *Service) Lookup(ctx context.Context, tenantID, channelID, name, namespace, language string) (Template, error) {
	if err := CheckName("template", name); err != nil {
		return Template{}, err
	}
	if err := CheckLanguage("language", language); err != nil {
		return Template{}, err
	}
	t, err := s.Store.FindTemplate(ctx, tenantID, channelID, name, language)
	if apperr.Is(err, apperr.KindNotFound) {
		return Template{}, apperr.New(apperr.KindNotFound, "Template %q in language %q not found on this channel.", name, language)
	}
	if err != nil {
		return Template{}, err
	}
	if namespace != "" && t.Namespace != "" && namespace != t.Namespace {
		return Template{}, apperr.New(apperr.KindNotFound, "Template %q in language %q not found in namespace %q on this channel (its namespace is %q).", name, language, namespace, t.Namespace)
	}
	if t.Status != StatusApproved {
		msg := fmt.Sprintf("template %q (%s) is %s, not APPROVED: only an approved template can be sent", name, language, t.Status)
		if t.Reason != "" {
			msg += " (" + t.Reason + ")"
		}
		return Template{}, apperr.Rejected("template", msg)
	}
	return t, nil
}

// Resolve is Lookup and CheckParams in one: what a send checks.
func (s *Service) Resolve(ctx context.Context, tenantID, channelID, name, namespace, language string, params []string) (Template, error) {
	t, err := s.Lookup(ctx, tenantID, channelID, name, namespace, language)
	if err != nil {
		return Template{}, err
	}
	return t, t.CheckParams("params", params)
}
