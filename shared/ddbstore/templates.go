package ddbstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Templates stores a channel's WhatsApp message templates in its tenant's
// partition of the data table:
//
//	PK          SK                                  item
//	TENANT#<t>  TPL#<c>#<language>#<name>           template (whole; version-conditioned)
//	TENANT#<t>  TPLID#<c>#<id>                      pointer: the template's name and language
//
// A send finds its template by name and language in one GetItem; the API
// reaches it by ID through the pointer. Both are written and deleted in
// one transaction; the first guards the (channel, name, language) pair.
type Templates struct {
	API   API
	Table string
}

var _ templates.Store = (*Templates)(nil)

func templateSK(channelID, language, name string) string {
	return skTemplateP + channelID + "#" + language + "#" + name
}
func templateIDSK(channelID, id string) string { return skTemplateIDP + channelID + "#" + id }

const (
	skTemplateP   = "TPL#"
	skTemplateIDP = "TPLID#"
)

type templatePointer struct {
	Name     string `dynamodbav:"name"`
	Language string `dynamodbav:"language"`
}

// CreateTemplate writes a template and its pointer.
func (s *Templates) CreateTemplate(ctx context.Context, t templates.Template) error {
	pk := tenantPK(t.TenantID)
	it, err := item(pk, templateSK(t.ChannelID, t.Language, t.Name), t)
	if err != nil {
		return err
	}
	ptr, err := item(pk, templateIDSK(t.ChannelID, t.ID), templatePointer{Name: t.Name, Language: t.Language})
	if err != nil {
		return err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(s.Table, it), putNew(s.Table, ptr),
	}})
	switch failedCondition(err) {
	case -1:
	case 0:
		return apperr.Exists("A template named %q in language %q already exists on this channel.", t.Name, t.Language).Wrap(err)
	default:
		return apperr.Exists("Template %s already exists; retry.", t.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("create template %s: %w", t.ID, err)
	}
	return nil
}

// GetTemplate reads a template by ID (strongly consistent).
func (s *Templates) GetTemplate(ctx context.Context, tenantID, channelID, id string) (templates.Template, error) {
	notFound := apperr.NotFound("Template", id)
	var p templatePointer
	if err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), templateIDSK(channelID, id), true, &p, notFound); err != nil {
		return templates.Template{}, err
	}
	t, err := s.find(ctx, tenantID, channelID, p.Name, p.Language, true, notFound)
	if err == nil && t.ID != id {
		return templates.Template{}, notFound
	}
	return t, err
}

// FindTemplate reads a template by name and language (strongly
// consistent: a status just set is what a send sees).
func (s *Templates) FindTemplate(ctx context.Context, tenantID, channelID, name, language string) (templates.Template, error) {
	return s.find(ctx, tenantID, channelID, name, language, true, apperr.NotFound("Template", name))
}

func (s *Templates) find(ctx context.Context, tenantID, channelID, name, language string, consistent bool, notFound error) (templates.Template, error) {
	if len(name) > templates.MaxName || len(language) > 16 {
		return templates.Template{}, notFound // no such key can exist
	}
	var t templates.Template
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), templateSK(channelID, language, name), consistent, &t, notFound)
	return t, err
}

// ListTemplates reads the channel's templates (strongly consistent), by
// name, then language.
func (s *Templates) ListTemplates(ctx context.Context, tenantID, channelID string) ([]templates.Template, error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenantID)), ":p": avS(skTemplateP + channelID + "#"),
		},
		ConsistentRead: aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := []templates.Template{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("unmarshal templates: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Language < out[j].Language
	})
	return out, nil
}

// PutTemplate replaces a template if its stored version is t.Version-1.
func (s *Templates) PutTemplate(ctx context.Context, t templates.Template) error {
	it, err := item(tenantPK(t.TenantID), templateSK(t.ChannelID, t.Language, t.Name), t)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      it,
		ConditionExpression:       aws.String("attribute_exists(PK) AND version = :v AND id = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": avN(t.Version - 1), ":id": avS(t.ID)},
	})
	if isConditionFailure(err) {
		return apperr.Conflict("template").Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("put template %s: %w", t.ID, err)
	}
	return nil
}

// DeleteTemplate removes a template and its pointer.
func (s *Templates) DeleteTemplate(ctx context.Context, t templates.Template) error {
	pk := tenantPK(t.TenantID)
	del := func(sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(pk, sk)}}
	}
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		del(templateSK(t.ChannelID, t.Language, t.Name)), del(templateIDSK(t.ChannelID, t.ID)),
	}})
	if err != nil {
		return fmt.Errorf("delete template %s: %w", t.ID, err)
	}
	return nil
}
