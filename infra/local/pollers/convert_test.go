package pollers

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestAttributeValue(t *testing.T) {
	tests := []struct {
		name string
		in   types.AttributeValue
		want events.DynamoDBAttributeValue
	}{
		{"S", &types.AttributeValueMemberS{Value: "hi"}, events.NewStringAttribute("hi")},
		{"N", &types.AttributeValueMemberN{Value: "-1.5e3"}, events.NewNumberAttribute("-1.5e3")},
		{"B", &types.AttributeValueMemberB{Value: []byte{0, 1}}, events.NewBinaryAttribute([]byte{0, 1})},
		{"BOOL", &types.AttributeValueMemberBOOL{Value: true}, events.NewBooleanAttribute(true)},
		{"NULL", &types.AttributeValueMemberNULL{Value: true}, events.NewNullAttribute()},
		{"SS", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, events.NewStringSetAttribute([]string{"a", "b"})},
		{"NS", &types.AttributeValueMemberNS{Value: []string{"1", "2"}}, events.NewNumberSetAttribute([]string{"1", "2"})},
		{"BS", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}}, events.NewBinarySetAttribute([][]byte{{1}, {2}})},
		{"empty M", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}, events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{})},
		{"empty L", &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, events.NewListAttribute([]events.DynamoDBAttributeValue{})},
		{
			"nested",
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberN{Value: "1"},
					&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberNULL{Value: true}}},
				}},
				"s": &types.AttributeValueMemberS{Value: ""},
			}},
			events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
				"l": events.NewListAttribute([]events.DynamoDBAttributeValue{
					events.NewNumberAttribute("1"),
					events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"x": events.NewNullAttribute()}),
				}),
				"s": events.NewStringAttribute(""),
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attributeValue(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			// The JSON Lambda would send must match too.
			gj, _ := got.MarshalJSON()
			wj, _ := tt.want.MarshalJSON()
			if string(gj) != string(wj) {
				t.Errorf("JSON %s, want %s", gj, wj)
			}
		})
	}
}

func TestAttributeValueUnknown(t *testing.T) {
	in := &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.UnknownUnionMember{Tag: "X"}}}
	if _, err := attributeValue(in); err == nil {
		t.Fatal("want an error for an unknown member")
	}
}

func TestStreamRecord(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	in := types.Record{
		AwsRegion:    aws.String("us-east-1"),
		EventID:      aws.String("e1"),
		EventName:    types.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}},
			NewImage:                    map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}, "v": &types.AttributeValueMemberN{Value: "2"}},
			OldImage:                    map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}, "v": &types.AttributeValueMemberN{Value: "1"}},
			SequenceNumber:              aws.String("42"),
			SizeBytes:                   aws.Int64(99),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
		},
	}
	got, err := streamRecord(in, "arn:stream")
	if err != nil {
		t.Fatal(err)
	}
	want := events.DynamoDBEventRecord{
		AWSRegion:      "us-east-1",
		EventID:        "e1",
		EventName:      "MODIFY",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:stream",
		UserIdentity:   &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: created},
			Keys:                        map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("a")},
			NewImage:                    map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("a"), "v": events.NewNumberAttribute("2")},
			OldImage:                    map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("a"), "v": events.NewNumberAttribute("1")},
			SequenceNumber:              "42",
			SizeBytes:                   99,
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
