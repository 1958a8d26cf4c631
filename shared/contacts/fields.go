package contacts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// FieldInput creates or changes a custom field definition.
type FieldInput struct {
	Name    *string   `json:"name"`
	Type    *string   `json:"type"`
	Options *[]string `json:"options"`
}

// ListFields returns the tenant's custom fields by ID.
func (s *Service) ListFields(ctx context.Context, tenantID string) ([]Field, error) {
	fs, err := s.Store.ListFields(ctx, tenantID)
	if fs == nil {
		fs = []Field{}
	}
	return fs, err
}

// GetField finds one custom field by ID.
func (s *Service) GetField(ctx context.Context, tenantID, id string) (Field, error) {
	fs, err := s.Store.ListFields(ctx, tenantID)
	if err != nil {
		return Field{}, err
	}
	for _, f := range fs {
		if f.ID == id {
			return f, nil
		}
	}
	return Field{}, apperr.NotFound("Contact field", id)
}

// CreateField defines a custom field.
func (s *Service) CreateField(ctx context.Context, tenantID string, in FieldInput) (Field, error) {
	if in.Name == nil {
		return Field{}, invalid("name", "is required")
	}
	if in.Type == nil {
		return Field{}, invalid("type", "is required (one of %s)", typeNames())
	}
	f := Field{Name: *in.Name, Type: FieldType(*in.Type)}
	if in.Options != nil {
		f.Options = *in.Options
	}
	if err := checkField(f); err != nil {
		return Field{}, err
	}
	fs, err := s.Store.ListFields(ctx, tenantID)
	if err != nil {
		return Field{}, err
	}
	if len(fs) >= MaxFields {
		return Field{}, invalid("name", "a tenant can have at most %d custom fields", MaxFields)
	}
	f.CreatedAt = s.Now().Unix()
	f.UpdatedAt = f.CreatedAt
	created, err := s.Store.CreateField(ctx, tenantID, f)
	if apperr.Is(err, apperr.KindExists) {
		return Field{}, apperr.Exists("A contact field named %q already exists.", f.Name)
	}
	return created, err
}

// UpdateField renames a field or changes a list field's options. The type
// cannot change: stored values were checked against it.
func (s *Service) UpdateField(ctx context.Context, tenantID, id string, in FieldInput) (Field, error) {
	if in == (FieldInput{}) {
		return Field{}, apperr.BadRequest("Request body must set name or options.")
	}
	prev, err := s.GetField(ctx, tenantID, id)
	if err != nil {
		return Field{}, err
	}
	next := prev
	if in.Type != nil && FieldType(*in.Type) != prev.Type {
		return Field{}, invalid("type", "cannot change from %s: existing values were checked against it", prev.Type)
	}
	if in.Name != nil {
		next.Name = *in.Name
	}
	if in.Options != nil {
		next.Options = *in.Options
	}
	if err := checkField(next); err != nil {
		return Field{}, err
	}
	if next.Name == prev.Name && slices.Equal(next.Options, prev.Options) {
		return prev, nil
	}
	next.UpdatedAt = s.Now().Unix()
	err = s.Store.UpdateField(ctx, tenantID, prev, next)
	if apperr.Is(err, apperr.KindExists) {
		return Field{}, apperr.Exists("A contact field named %q already exists.", next.Name)
	}
	return next, err
}

// DeleteField removes a definition. Values stored under it stay on the
// contacts but are no longer shown or searchable; its ID is never reused.
func (s *Service) DeleteField(ctx context.Context, tenantID, id string) error {
	f, err := s.GetField(ctx, tenantID, id)
	if err != nil {
		return err
	}
	return s.Store.DeleteField(ctx, tenantID, f)
}

func checkField(f Field) error {
	if err := ValidFieldName(f.Name); err != nil {
		return err
	}
	if !slices.Contains(FieldTypes, f.Type) {
		return invalid("type", "must be one of %s, not %q", typeNames(), f.Type)
	}
	if f.Type != List {
		if len(f.Options) > 0 {
			return invalid("options", "only list fields have options")
		}
		return nil
	}
	if len(f.Options) == 0 || len(f.Options) > 100 {
		return invalid("options", "a list field needs 1 to 100 options")
	}
	for i, o := range f.Options {
		if strings.TrimSpace(o) != o || o == "" || utf8.RuneCountInString(o) > 100 {
			return invalid(fmt.Sprintf("options[%d]", i), "must be 1 to 100 characters without leading or trailing spaces")
		}
		for _, p := range f.Options[:i] {
			if strings.EqualFold(p, o) {
				return invalid(fmt.Sprintf("options[%d]", i), "%q is given twice", o)
			}
		}
	}
	return nil
}

func typeNames() string {
	names := make([]string, len(FieldTypes))
	for i, t := range FieldTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
