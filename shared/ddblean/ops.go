package ddblean

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
)

// sdkCodec leaves the body and the answer to the SDK's protocol.
type sdkCodec struct{ out smithy.Deserializable }

func (sdkCodec) encode([]byte) ([]byte, bool)    { return nil, false }
func (sdkCodec) decode([]byte) bool              { return false }
func (sdkCodec) reset()                          {}
func (c sdkCodec) output() smithy.Deserializable { return c.out }

// GetItem is dynamodb.Client.GetItem.
func (c *Client) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if in == nil {
		in = &dynamodb.GetItemInput{}
	}
	if c.off || len(optFns) > 0 || arnTable(in.TableName) {
		return c.sdk.GetItem(ctx, in, optFns...)
	}
	out, err := c.call(ctx, opGetItem, in, func(p any) codec { return newGetItemCodec(p.(*dynamodb.GetItemInput)) })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.GetItemOutput), nil
}

// PutItem is dynamodb.Client.PutItem.
func (c *Client) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if in == nil {
		in = &dynamodb.PutItemInput{}
	}
	if c.off || len(optFns) > 0 || arnTable(in.TableName) {
		return c.sdk.PutItem(ctx, in, optFns...)
	}
	out, err := c.call(ctx, opPutItem, in, func(p any) codec { return newPutItemCodec(p.(*dynamodb.PutItemInput)) })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.PutItemOutput), nil
}

// UpdateItem is dynamodb.Client.UpdateItem.
func (c *Client) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if in == nil {
		in = &dynamodb.UpdateItemInput{}
	}
	if c.off || len(optFns) > 0 || arnTable(in.TableName) {
		return c.sdk.UpdateItem(ctx, in, optFns...)
	}
	out, err := c.call(ctx, opUpdateItem, in, func(p any) codec { return newUpdateItemCodec(p.(*dynamodb.UpdateItemInput)) })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.UpdateItemOutput), nil
}

// DeleteItem is dynamodb.Client.DeleteItem.
func (c *Client) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if in == nil {
		in = &dynamodb.DeleteItemInput{}
	}
	if c.off || len(optFns) > 0 || arnTable(in.TableName) {
		return c.sdk.DeleteItem(ctx, in, optFns...)
	}
	out, err := c.call(ctx, opDeleteItem, in, func(p any) codec { return newDeleteItemCodec(p.(*dynamodb.DeleteItemInput)) })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.DeleteItemOutput), nil
}

// Query is dynamodb.Client.Query.
func (c *Client) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if in == nil {
		in = &dynamodb.QueryInput{}
	}
	if c.off || len(optFns) > 0 || arnTable(in.TableName) {
		return c.sdk.Query(ctx, in, optFns...)
	}
	out, err := c.call(ctx, opQuery, in, func(p any) codec { return newQueryCodec(p.(*dynamodb.QueryInput)) })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.QueryOutput), nil
}

// TransactWriteItems is dynamodb.Client.TransactWriteItems, with the SDK's
// idempotency token when the input has none.
func (c *Client) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if in == nil {
		in = &dynamodb.TransactWriteItemsInput{}
	}
	if c.off || len(optFns) > 0 {
		return c.sdk.TransactWriteItems(ctx, in, optFns...)
	}
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil && arnTable(it.Put.TableName),
			it.Update != nil && arnTable(it.Update.TableName),
			it.Delete != nil && arnTable(it.Delete.TableName),
			it.ConditionCheck != nil && arnTable(it.ConditionCheck.TableName):
			return c.sdk.TransactWriteItems(ctx, in, optFns...)
		}
	}
	if in.ClientRequestToken == nil && c.opts.IdempotencyTokenProvider != nil {
		t, err := c.opts.IdempotencyTokenProvider.GetIdempotencyToken()
		if err != nil {
			return nil, wrapOp(opTransactWriteItems, err)
		}
		in.ClientRequestToken = &t
	}
	out, err := c.call(ctx, opTransactWriteItems, in, func(any) codec { return sdkCodec{&dynamodb.TransactWriteItemsOutput{}} })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.TransactWriteItemsOutput), nil
}

// BatchGetItem is dynamodb.Client.BatchGetItem.
func (c *Client) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if in == nil {
		in = &dynamodb.BatchGetItemInput{}
	}
	if c.off || len(optFns) > 0 {
		return c.sdk.BatchGetItem(ctx, in, optFns...)
	}
	for t := range in.RequestItems {
		if arnTable(&t) {
			return c.sdk.BatchGetItem(ctx, in, optFns...)
		}
	}
	out, err := c.call(ctx, opBatchGetItem, in, func(any) codec { return sdkCodec{&dynamodb.BatchGetItemOutput{}} })
	if err != nil {
		return nil, err
	}
	return out.(*dynamodb.BatchGetItemOutput), nil
}

// Scan is dynamodb.Client.Scan, on the SDK client (a maintenance path:
// reindex).
func (c *Client) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return c.sdk.Scan(ctx, in, optFns...)
}

// BatchWriteItem is dynamodb.Client.BatchWriteItem, on the SDK client (a
// maintenance path: reindex).
func (c *Client) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return c.sdk.BatchWriteItem(ctx, in, optFns...)
}
