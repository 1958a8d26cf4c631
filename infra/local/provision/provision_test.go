package provision_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/queue"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// A data table made before GSI2 gets it.
func TestEnsureTablesAddsMissingIndex(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	old := ddbstore.CreateTableInput("older")
	old.GlobalSecondaryIndexes = old.GlobalSecondaryIndexes[:1]
	old.AttributeDefinitions = old.AttributeDefinitions[:4]
	if _, err := e.DDB.CreateTable(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := provision.EnsureTables(ctx, e.DDB, "older", "older-ops"); err != nil {
		t.Fatal(err)
	}
	d, err := e.DDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("older")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range d.Table.GlobalSecondaryIndexes {
		found = found || aws.ToString(g.IndexName) == ddbstore.GSI2
	}
	if !found {
		t.Fatalf("indexes %+v, want GSI2 added", d.Table.GlobalSecondaryIndexes)
	}
}

func TestEnsureTablesTwice(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	for range 2 {
		if err := provision.EnsureTables(ctx, e.DDB, "provisioned", "provisioned-ops"); err != nil {
			t.Fatal(err)
		}
	}
	describe := func(name string) *ddbtypes.TableDescription {
		t.Helper()
		d, err := e.DDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Table.TableStatus != ddbtypes.TableStatusActive {
			t.Errorf("%s: status %s", name, d.Table.TableStatus)
		}
		ttl, err := e.DDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != ddbstore.TTLAttribute {
			t.Errorf("%s: TTL %s on %q", name, d.TimeToLiveStatus, aws.ToString(d.AttributeName))
		}
		return d.Table
	}

	tb := describe("provisioned")
	if s := tb.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages || tb.LatestStreamArn == nil {
		t.Errorf("data table stream %+v", s)
	}
	names := map[string]bool{}
	for _, g := range tb.GlobalSecondaryIndexes {
		names[aws.ToString(g.IndexName)] = true
	}
	if len(tb.GlobalSecondaryIndexes) != 2 || !names[ddbstore.GSI1] || !names[ddbstore.GSI2] {
		t.Errorf("data table indexes %+v, want GSI1 and GSI2", tb.GlobalSecondaryIndexes)
	}

	ops := describe("provisioned-ops")
	if s := ops.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		t.Errorf("operations table has a stream: %+v", s)
	}
	if g := ops.GlobalSecondaryIndexes; len(g) != 1 || aws.ToString(g[0].IndexName) != ddbstore.GSI1 ||
		g[0].Projection == nil || g[0].Projection.ProjectionType != ddbtypes.ProjectionTypeKeysOnly {
		t.Errorf("operations table indexes %+v, want GSI1 with keys only", g)
	}
}

func TestEnsureQueues(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	first, err := provision.EnsureQueues(ctx, e.SQS, "prov-")
	if err != nil {
		t.Fatal(err)
	}
	// Drift one attribute: a second run must succeed and repair it.
	if _, err := e.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(first.DeliveriesURL),
		Attributes: map[string]string{"VisibilityTimeout": "5"},
	}); err != nil {
		t.Fatal(err)
	}
	second, err := provision.EnsureQueues(ctx, e.SQS, "prov-")
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if first != second {
		t.Errorf("second run %+v, first %+v", second, first)
	}

	attrs := queueAttributes(t, e.SQS, second.DeliveriesURL)
	retention := strconv.Itoa(int(queue.Retention.Seconds()))
	if got, want := attrs["VisibilityTimeout"], strconv.Itoa(int(queue.VisibilityTimeout.Seconds())); got != want {
		t.Errorf("VisibilityTimeout %s, want %s", got, want)
	}
	if got := attrs["MessageRetentionPeriod"]; got != retention {
		t.Errorf("MessageRetentionPeriod %s, want %s", got, retention)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", attrs["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != second.DLQARN || redrive.MaxReceiveCount != queue.MaxReceiveCount {
		t.Errorf("RedrivePolicy %+v, want DLQ %s after %d", redrive, second.DLQARN, queue.MaxReceiveCount)
	}
	if got := queueAttributes(t, e.SQS, second.DLQURL)["MessageRetentionPeriod"]; got != retention {
		t.Errorf("DLQ MessageRetentionPeriod %s, want %s", got, retention)
	}
}

func queueAttributes(t *testing.T, c *sqs.Client, url string) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes
}

func TestRedriveToDLQ(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	q := e.Queues
	if _, err := e.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.DeliveriesURL), MessageBody: aws.String("poison")}); err != nil {
		t.Fatal(err)
	}
	receive := func(url string) []sqstypes.Message {
		out, err := e.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages { // back at once, as after a failed attempt
			if _, err := e.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				t.Fatal(err)
			}
		}
		return out.Messages
	}
	for i := 1; i <= queue.MaxReceiveCount; i++ {
		msgs := receive(q.DeliveriesURL)
		if len(msgs) != 1 {
			t.Fatalf("receive %d: got %d messages", i, len(msgs))
		}
		if got := msgs[0].Attributes["ApproximateReceiveCount"]; got != strconv.Itoa(i) {
			t.Errorf("receive %d: ApproximateReceiveCount %s", i, got)
		}
	}
	if msgs := receive(q.DeliveriesURL); len(msgs) != 0 {
		t.Fatalf("receive %d: still on the deliveries queue", queue.MaxReceiveCount+1)
	}
	msgs := receive(q.DLQURL)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "poison" {
		t.Fatalf("DLQ holds %+v, want the poison message", msgs)
	}
}
