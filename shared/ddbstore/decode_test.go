package ddbstore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/contacts"
)

// genContact is a contact with every kind of value its attributes take,
// nil and empty ones included, as rng picks.
func genContact(rng *rand.Rand) contacts.Contact {
	str := func() string {
		if rng.IntN(5) == 0 {
			return ""
		}
		return fmt.Sprintf("v%d é\x00%d", rng.IntN(1000), rng.Int64())
	}
	strMap := func() map[string]string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return map[string]string{}
		}
		m := map[string]string{}
		for range rng.IntN(6) + 1 {
			m[str()+"k"] = str()
		}
		return m
	}
	c := contacts.Contact{
		ID: str(), TenantID: str(), ChannelID: str(),
		Fields: strMap(), Custom: strMap(),
		Opportunity: rng.IntN(2) == 0,
		CreatedAt:   rng.Int64() - rng.Int64(), UpdatedAt: rng.Int64N(2e9), Version: rng.Int64N(100),
	}
	switch rng.IntN(3) {
	case 1:
		c.Tags = []string{}
	case 2:
		for range rng.IntN(5) + 1 {
			c.Tags = append(c.Tags, str())
		}
	}
	switch rng.IntN(3) {
	case 1:
		c.LastInbound = map[string]int64{}
	case 2:
		c.LastInbound = map[string]int64{str() + "c": rng.Int64N(2e9), "other": -1}
	}
	if rng.IntN(2) == 0 {
		c.LastEvent = &contacts.Event{Kind: str(), PostbackID: str(), WebviewFormID: str(), Location: str(), At: rng.Int64N(2e9)}
	}
	return c
}

func genField(rng *rand.Rand) contacts.Field {
	f := contacts.Field{ID: fmt.Sprint(rng.IntN(100)), Name: fmt.Sprintf("Field %d", rng.IntN(100)),
		Type: contacts.FieldType([]string{"text", "list", "number", ""}[rng.IntN(4)]), CreatedAt: rng.Int64N(2e9), UpdatedAt: rng.Int64N(2e9)}
	switch rng.IntN(3) {
	case 1:
		f.Options = []string{}
	case 2:
		f.Options = []string{"free", "pro", fmt.Sprint(rng.IntN(10))}
	}
	return f
}

// variants are the item as written, and the same item changed the ways
// attributevalue still reads (or refuses): NULLs, numbers for strings,
// string sets for lists, names in another case, unknown attributes, and
// values of the wrong type.
func variants(rng *rand.Rand, item map[string]types.AttributeValue) []map[string]types.AttributeValue {
	cp := func() map[string]types.AttributeValue {
		m := make(map[string]types.AttributeValue, len(item))
		for k, v := range item {
			m[k] = v
		}
		return m
	}
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	pick := func() string { return keys[rng.IntN(len(keys))] }
	out := []map[string]types.AttributeValue{item}
	wrong := []types.AttributeValue{
		&types.AttributeValueMemberNULL{Value: true},
		&types.AttributeValueMemberS{Value: "12"},
		&types.AttributeValueMemberS{Value: "x"},
		&types.AttributeValueMemberN{Value: "7"},
		&types.AttributeValueMemberN{Value: "1.5"},
		&types.AttributeValueMemberBOOL{Value: true},
		&types.AttributeValueMemberB{Value: []byte("b")},
		&types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		&types.AttributeValueMemberSS{Value: []string{}},
		&types.AttributeValueMemberNS{Value: []string{"1"}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "a"}, &types.AttributeValueMemberNULL{Value: true}}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "3"}}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": &types.AttributeValueMemberS{Value: "x"}, "n": &types.AttributeValueMemberNULL{Value: true}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": &types.AttributeValueMemberN{Value: "5"}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"KIND": &types.AttributeValueMemberS{Value: "postback"}, "at": &types.AttributeValueMemberN{Value: "9"}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"at": &types.AttributeValueMemberS{Value: "9"}}},
	}
	for range 12 {
		m := cp()
		m[pick()] = wrong[rng.IntN(len(wrong))]
		out = append(out, m)
	}
	// A name in other case, and attributes the type does not have.
	m := cp()
	k := pick()
	v := m[k]
	delete(m, k)
	m[upper(k)] = v
	m["PK"] = &types.AttributeValueMemberS{Value: "CONTACT#t#1"}
	m["SK"] = &types.AttributeValueMemberS{Value: "CONTACT"}
	m["GSI1PK"] = &types.AttributeValueMemberN{Value: "1"}
	out = append(out, m)
	return out
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestDecodersMatchAttributevalue: the hand-written decoders give what
// attributevalue gives, or fail where it fails.
func TestDecodersMatchAttributevalue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for range 400 {
		c := genContact(rng)
		item, err := attributevalue.MarshalMap(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range variants(rng, item) {
			var want, got contacts.Contact
			werr := attributevalue.UnmarshalMap(it, &want)
			gerr := (*contactItem)(&got).decodeItem(it)
			if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(want, got)) {
				t.Fatalf("contact item %v:\nattributevalue %+v (%v)\nhand-written   %+v (%v)", it, want, werr, got, gerr)
			}
			n++
		}

		f := genField(rng)
		item, err = attributevalue.MarshalMap(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range variants(rng, item) {
			var want contacts.Field
			werr := attributevalue.UnmarshalMap(it, &want)
			got, gerr := decodeField(it)
			if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(want, got)) {
				t.Fatalf("field item %v:\nattributevalue %+v (%v)\nhand-written   %+v (%v)", it, want, werr, got, gerr)
			}
			n++
		}
	}
	t.Logf("%d items compared", n)
}

// BenchmarkDecodeContact compares the two on the contact GET reads.
func BenchmarkDecodeContact(b *testing.B) {
	c := contacts.Contact{ID: "100000000000042", TenantID: "ten_x", ChannelID: "ch_y",
		Fields: map[string]string{"firstName": "Ayesha", "lastName": "Khan", "phone": "+923244077087", "email": "a@example.com"},
		Custom: map[string]string{"1": "vip", "2": "pro", "3": "42"}, Tags: []string{"customer", "newsletter"},
		CreatedAt: 1700000000, UpdatedAt: 1700000000, Version: 3}
	item, _ := attributevalue.MarshalMap(c)
	b.Run("attributevalue", func(b *testing.B) {
		for b.Loop() {
			var out contacts.Contact
			if err := attributevalue.UnmarshalMap(item, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		for b.Loop() {
			var out contacts.Contact
			if err := (*contactItem)(&out).decodeItem(item); err != nil {
				b.Fatal(err)
			}
		}
	})
}
