package provision

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/queue"
)

// ensureOutbox creates (or updates) prefix+queue.OutboxDLQName and
// prefix+queue.OutboxName, the outbox redriving to its DLQ after
// queue.OutboxMaxReceiveCount receives.
func ensureOutbox(ctx context.Context, client *sqs.Client, prefix string, q *Queues) error {
	retention := seconds(queue.Retention)
	var err error
	q.OutboxDLQURL, q.OutboxDLQARN, err = ensureQueue(ctx, client, prefix+queue.OutboxDLQName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
	})
	if err != nil {
		return err
	}
	redrive, err := json.Marshal(map[string]any{"deadLetterTargetArn": q.OutboxDLQARN, "maxReceiveCount": queue.OutboxMaxReceiveCount})
	if err != nil {
		return fmt.Errorf("outbox redrive policy: %w", err)
	}
	q.OutboxURL, q.OutboxARN, err = ensureQueue(ctx, client, prefix+queue.OutboxName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): retention,
		string(sqstypes.QueueAttributeNameVisibilityTimeout):      seconds(queue.OutboxVisibilityTimeout),
		string(sqstypes.QueueAttributeNameRedrivePolicy):          string(redrive),
	})
	return err
}
