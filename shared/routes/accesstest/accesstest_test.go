package accesstest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/routes"
)

var res = Resources{Table: "data", OpsTable: "ops", Queue: "https://q/deliveries", DLQ: "https://q/dlq"}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestMissing(t *testing.T) {
	rl := &dynamodb.UpdateItemInput{TableName: aws.String("ops"), Key: map[string]types.AttributeValue{"PK": s("RL#tok#1"), "SK": s("RL")}}
	att := &dynamodb.PutItemInput{TableName: aws.String("ops"), Item: map[string]types.AttributeValue{"PK": s("CONN#t#c"), "SK": s("ATT#1")}}
	idxTx := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("data"), Item: map[string]types.AttributeValue{"PK": s("CONTACT#t#1")}}},
		{Put: &types.Put{TableName: aws.String("ops"), Item: map[string]types.AttributeValue{"PK": s("IDX#t#c#f#v")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("data"), Key: map[string]types.AttributeValue{"PK": s("TENANT#t")}}},
	}}
	search := &dynamodb.QueryInput{TableName: aws.String("ops"), IndexName: aws.String("GSI1")}
	send := &sqs.SendMessageBatchInput{QueueUrl: aws.String(res.Queue)}
	dlqRead := &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.DLQ)}
	dlqSend := &sqs.SendMessageInput{QueueUrl: aws.String(res.DLQ)}
	other := &dynamodb.GetItemInput{TableName: aws.String("someone-elses")}
	tests := []struct {
		name   string
		access routes.Access
		in     any
		want   []string // substrings of the refusals, in order; none: allowed
	}{
		{"rate count", routes.RateCount, rl, nil},
		{"rate count via Ops", routes.Ops, rl, nil},
		{"rate count without grant", routes.TableRead, rl, []string{"needs RateCount"}},
		{"attempt with RateCount only", routes.RateCount, att, []string{"needs Ops (RateCount allows UpdateItem on RL# keys only)"}},
		{"attempt with Ops", routes.Ops, att, nil},
		{"index write without Ops", routes.TableRead | routes.TableWrite | routes.RateCount, idxTx, []string{"IDX#t#c#f#v): needs Ops"}},
		{"index write, no TableWrite", routes.TableRead | routes.Ops, idxTx, []string{"CONTACT#t#1): needs TableWrite"}},
		{"condition check needs read", routes.TableWrite | routes.Ops, idxTx, []string{"ConditionCheck data (PK TENANT#t): needs TableRead"}},
		{"search with OpsRead", routes.OpsRead, search, nil},
		{"search without", routes.TableRead, search, []string{"needs Ops or OpsRead"}},
		{"queue send", routes.QueueSend, send, nil},
		{"queue send without", routes.QueueConsume, send, []string{"needs QueueSend"}},
		{"DLQ read", routes.DLQRead, dlqRead, nil},
		{"DLQ read without", routes.QueueConsume, dlqRead, []string{"needs DLQRead"}},
		{"DLQ send", routes.DLQRead | routes.QueueSend, dlqSend, []string{"nothing may send to the DLQ"}},
		{"another table", routes.TableRead | routes.Ops, other, []string{"a resource the project does not grant"}},
		{"unknown call", routes.TableRead, &dynamodb.DescribeTableInput{}, []string{"unknown *dynamodb.DescribeTableInput"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Missing(tt.access, calls(tt.in), res)
			if len(got) != len(tt.want) {
				t.Fatalf("Missing = %q, want %d refusals like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("refusal %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestInstrumentRecordsUnderRecorderOnly checks that an instrumented client
// records its calls under a WithRecorder context and nowhere else. The call
// goes to a closed port and fails; recording happens before it is sent.
func TestInstrumentRecordsUnderRecorderOnly(t *testing.T) {
	cfg := Instrument(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	db := dynamodb.NewFromConfig(cfg)
	in := &dynamodb.GetItemInput{TableName: aws.String("data"), Key: map[string]types.AttributeValue{"PK": s("CONTACT#t#1"), "SK": s("CONTACT")}}
	ctx, rec := WithRecorder(context.Background())
	_, _ = db.GetItem(ctx, in)
	_, _ = db.GetItem(context.Background(), in)
	got := rec.Calls()
	if len(got) != 1 || got[0].String() != "GetItem data (PK CONTACT#t#1)" {
		t.Fatalf("recorded %v, want the one GetItem made under the recorder", got)
	}
}
