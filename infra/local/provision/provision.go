// Package provision creates the local DynamoDB tables and SQS queues. Every
// function is idempotent: `make run` calls them on each start, tests call
// them for their own resources.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/queue"
)

// The tables of `make run`'s stack (its queues are queue.DeliveriesName and
// queue.DLQName, unprefixed); `make invoke` finds them by these names.
const (
	LocalTable    = "chat-backend"
	LocalOpsTable = "chat-backend-ops"
)

// EnsureTables creates the data table (ddbstore.CreateTableInput) and the
// operations table (ddbstore.CreateOpsTableInput) unless they exist, waits
// until they are ACTIVE and enables TTL on ddbstore.TTLAttribute.
func EnsureTables(ctx context.Context, ddb *dynamodb.Client, data, ops string) error {
	if err := ensureTable(ctx, ddb, ddbstore.CreateTableInput(data)); err != nil {
		return err
	}
	return ensureTable(ctx, ddb, ddbstore.CreateOpsTableInput(ops))
}

func ensureTable(ctx context.Context, ddb *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	_, err := ddb.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	err = dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if err := addMissingIndexes(ctx, ddb, in); err != nil {
		return err
	}

	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe TTL of %s: %w", name, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == ddbstore.TTLAttribute &&
		(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(ddbstore.TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// Queues locates the deliveries queue and its dead-letter queue, and the
// outbox queue and its own.
type Queues struct {
	DeliveriesURL, DeliveriesARN string
	DLQURL, DLQARN               string
	OutboxURL, OutboxARN         string
	OutboxDLQURL, OutboxDLQARN   string
}

// EnsureQueues creates (or updates) prefix+queue.DLQName and
// prefix+queue.DeliveriesName with the settings of package queue, the
// deliveries queue redriving to the DLQ after queue.MaxReceiveCount receives;
// and the outbox queue and its DLQ (ensureOutbox).
func EnsureQueues(ctx context.Context, client *sqs.Client, prefix string) (Queues, error) {
	retention := seconds(queue.Retention)
	var q Queues
	var err error
	q.DLQURL, q.DLQARN, err = ensureQueue(ctx, client, prefix+queue.DLQName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
	})
	if err != nil {
		return Queues{}, err
	}
	redrive, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": q.DLQARN,
		"maxReceiveCount":     queue.MaxReceiveCount,
	})
	if err != nil {
		return Queues{}, fmt.Errorf("redrive policy: %w", err)
	}
	q.DeliveriesURL, q.DeliveriesARN, err = ensureQueue(ctx, client, prefix+queue.DeliveriesName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
		string(sqstypes.QueueAttributeNameVisibilityTimeout):      seconds(queue.VisibilityTimeout),
		string(sqstypes.QueueAttributeNameRedrivePolicy):          string(redrive),
	})
	if err != nil {
		return Queues{}, err
	}
	if err := ensureOutbox(ctx, client, prefix, &q); err != nil {
		return Queues{}, err
	}
	return q, nil
}

// addMissingIndexes adds to a table made before them the GSIs in its
// definition that it lacks (a data directory kept from an older build).
func addMissingIndexes(ctx context.Context, ddb *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	have := map[string]bool{}
	for _, g := range d.Table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if have[aws.ToString(g.IndexName)] {
			continue
		}
		_, err := ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: in.AttributeDefinitions,
			GlobalSecondaryIndexUpdates: []ddbtypes.GlobalSecondaryIndexUpdate{{Create: &ddbtypes.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection,
			}}},
		})
		if err != nil {
			return fmt.Errorf("add index %s to %s: %w", aws.ToString(g.IndexName), name, err)
		}
	}
	return nil
}

// ensureQueue creates the queue, or sets attrs on it if it exists with other
// attributes, and returns its URL and ARN.
func ensureQueue(ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	var exists *sqstypes.QueueNameExists
	switch {
	case err == nil:
		url = aws.ToString(created.QueueUrl)
	case errors.As(err, &exists):
		got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return "", "", fmt.Errorf("get URL of queue %s: %w", name, err)
		}
		url = aws.ToString(got.QueueUrl)
		if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); err != nil {
			return "", "", fmt.Errorf("update queue %s: %w", name, err)
		}
	default:
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("get ARN of queue %s: %w", name, err)
	}
	return url, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int(d / time.Second))
}
