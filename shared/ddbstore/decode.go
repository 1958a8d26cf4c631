package ddbstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/contacts"
)

// Hand-written decoders for the items on the hot read path: a contact and
// the tenant's custom fields (every GET /v1/contact/{id} reads both). They
// give what attributevalue.UnmarshalMap gives for these types — the same
// attribute names (an exact match first, then one that differs in case
// only), NULL as the zero value, a number accepted where a string is
// expected, unknown attributes ignored — without its reflection;
// decode_test.go holds them to that on generated items.

// itemDecoder is a type getItem decodes by hand instead of through
// attributevalue.
type itemDecoder interface {
	decodeItem(map[string]types.AttributeValue) error
}

// contactItem is a contact as getItem decodes it.
type contactItem contacts.Contact

var _ itemDecoder = (*contactItem)(nil)

var contactAttrs = []string{"id", "tenant_id", "channel_id", "fields", "custom", "tags", "opportunity",
	"created_at", "updated_at", "last_inbound", "last_event", "version", "count_shard"}

func (c *contactItem) decodeItem(item map[string]types.AttributeValue) error {
	for name, av := range item {
		var err error
		switch attrName(name, contactAttrs) {
		case "id":
			c.ID, err = avString(av)
		case "tenant_id":
			c.TenantID, err = avString(av)
		case "channel_id":
			c.ChannelID, err = avString(av)
		case "fields":
			c.Fields, err = avStringMap(av, c.Fields)
		case "custom":
			c.Custom, err = avStringMap(av, c.Custom)
		case "tags":
			c.Tags, err = avStrings(av)
		case "opportunity":
			c.Opportunity, err = avBool(av)
		case "created_at":
			c.CreatedAt, err = avInt(av)
		case "updated_at":
			c.UpdatedAt, err = avInt(av)
		case "last_inbound":
			c.LastInbound, err = avIntMap(av, c.LastInbound)
		case "last_event":
			c.LastEvent, err = avEvent(av, c.LastEvent)
		case "version":
			c.Version, err = avInt(av)
		case "count_shard":
			var n int64
			n, err = avInt(av)
			c.CountShard = int(n)
		}
		if err != nil {
			return fmt.Errorf("contact attribute %s: %w", name, err)
		}
	}
	return nil
}

var eventAttrs = []string{"kind", "postback_id", "webview_form_id", "location", "at"}

func avEvent(av types.AttributeValue, into *contacts.Event) (*contacts.Event, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberM:
		e := into
		if e == nil {
			e = &contacts.Event{}
		}
		for name, av := range v.Value {
			var err error
			switch attrName(name, eventAttrs) {
			case "kind":
				e.Kind, err = avString(av)
			case "postback_id":
				e.PostbackID, err = avString(av)
			case "webview_form_id":
				e.WebviewFormID, err = avString(av)
			case "location":
				e.Location, err = avString(av)
			case "at":
				e.At, err = avInt(av)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		return e, nil
	}
	return nil, typeError(av, "an event")
}

var fieldAttrs = []string{"id", "name", "type", "options", "created_at", "updated_at"}

// decodeField decodes a custom field definition.
func decodeField(item map[string]types.AttributeValue) (contacts.Field, error) {
	var f contacts.Field
	for name, av := range item {
		var err error
		switch attrName(name, fieldAttrs) {
		case "id":
			f.ID, err = avString(av)
		case "name":
			f.Name, err = avString(av)
		case "type":
			var s string
			s, err = avString(av)
			f.Type = contacts.FieldType(s)
		case "options":
			f.Options, err = avStrings(av)
		case "created_at":
			f.CreatedAt, err = avInt(av)
		case "updated_at":
			f.UpdatedAt, err = avInt(av)
		}
		if err != nil {
			return contacts.Field{}, fmt.Errorf("field attribute %s: %w", name, err)
		}
	}
	return f, nil
}

// attrName is the one of names that attribute name fills: itself, or the
// first that equals it but for case (as attributevalue matches struct
// tags); "" if none.
func attrName(name string, names []string) string {
	for _, n := range names {
		if n == name {
			return n
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return ""
}

func typeError(av types.AttributeValue, want string) error {
	return fmt.Errorf("cannot decode %T as %s", av, want)
}

func avString(av types.AttributeValue) (string, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value, nil
	case *types.AttributeValueMemberN:
		return v.Value, nil
	case *types.AttributeValueMemberNULL:
		return "", nil
	}
	return "", typeError(av, "a string")
}

func avInt(av types.AttributeValue) (int64, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberN:
		return strconv.ParseInt(v.Value, 10, 64)
	case *types.AttributeValueMemberNULL:
		return 0, nil
	}
	return 0, typeError(av, "an integer")
}

func avBool(av types.AttributeValue) (bool, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberBOOL:
		return v.Value, nil
	case *types.AttributeValueMemberNULL:
		return false, nil
	}
	return false, typeError(av, "a boolean")
}

func avStrings(av types.AttributeValue) ([]string, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberL:
		out := make([]string, len(v.Value))
		for i, e := range v.Value {
			s, err := avString(e)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case *types.AttributeValueMemberSS:
		return append(make([]string, 0, len(v.Value)), v.Value...), nil
	case *types.AttributeValueMemberNS:
		return append(make([]string, 0, len(v.Value)), v.Value...), nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	}
	return nil, typeError(av, "a list of strings")
}

// avStringMap decodes a map into m (made if nil), as attributevalue adds
// to a map it decodes into.
func avStringMap(av types.AttributeValue, m map[string]string) (map[string]string, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		if m == nil {
			m = make(map[string]string, len(v.Value))
		}
		for k, e := range v.Value {
			s, err := avString(e)
			if err != nil {
				return nil, err
			}
			m[k] = s
		}
		return m, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	}
	return nil, typeError(av, "a map of strings")
}

func avIntMap(av types.AttributeValue, m map[string]int64) (map[string]int64, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		if m == nil {
			m = make(map[string]int64, len(v.Value))
		}
		for k, e := range v.Value {
			n, err := avInt(e)
			if err != nil {
				return nil, err
			}
			m[k] = n
		}
		return m, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	}
	return nil, typeError(av, "a map of integers")
}
