package ddblean

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// The hand-written codecs of the operations on the request path.

type getItemCodec struct {
	in  *dynamodb.GetItemInput
	out dynamodb.GetItemOutput
}

func newGetItemCodec(in *dynamodb.GetItemInput) *getItemCodec { return &getItemCodec{in: in} }

func (c *getItemCodec) output() smithy.Deserializable { return &c.out }
func (c *getItemCodec) reset()                        { c.out = dynamodb.GetItemOutput{} }

func (c *getItemCodec) encode(b []byte) ([]byte, bool) {
	in := c.in
	if in.AttributesToGet != nil {
		return nil, false
	}
	w := jw{b: b}
	w.open()
	w.boolean("ConsistentRead", in.ConsistentRead)
	w.names("ExpressionAttributeNames", in.ExpressionAttributeNames)
	if !w.item("Key", in.Key) {
		return nil, false
	}
	w.str("ProjectionExpression", in.ProjectionExpression)
	w.enum("ReturnConsumedCapacity", string(in.ReturnConsumedCapacity))
	w.str("TableName", in.TableName)
	w.close()
	return w.b, true
}

func (c *getItemCodec) decode(body []byte) bool {
	return decodeTop(body, func(d *dec, k string) (bool, error) {
		if k == "Item" {
			m, err := d.avMap()
			c.out.Item = m
			return true, err
		}
		return false, nil
	})
}

type putItemCodec struct {
	in  *dynamodb.PutItemInput
	out dynamodb.PutItemOutput
}

func newPutItemCodec(in *dynamodb.PutItemInput) *putItemCodec { return &putItemCodec{in: in} }

func (c *putItemCodec) output() smithy.Deserializable { return &c.out }
func (c *putItemCodec) reset()                        { c.out = dynamodb.PutItemOutput{} }

func (c *putItemCodec) encode(b []byte) ([]byte, bool) {
	in := c.in
	if in.ConditionalOperator != "" || in.Expected != nil {
		return nil, false
	}
	w := jw{b: b}
	w.open()
	w.str("ConditionExpression", in.ConditionExpression)
	w.names("ExpressionAttributeNames", in.ExpressionAttributeNames)
	if !w.item("ExpressionAttributeValues", in.ExpressionAttributeValues) || !w.item("Item", in.Item) {
		return nil, false
	}
	w.enum("ReturnConsumedCapacity", string(in.ReturnConsumedCapacity))
	w.enum("ReturnItemCollectionMetrics", string(in.ReturnItemCollectionMetrics))
	w.enum("ReturnValues", string(in.ReturnValues))
	w.enum("ReturnValuesOnConditionCheckFailure", string(in.ReturnValuesOnConditionCheckFailure))
	w.str("TableName", in.TableName)
	w.close()
	return w.b, true
}

func (c *putItemCodec) decode(body []byte) bool {
	return decodeAttributes(body, &c.out.Attributes)
}

type updateItemCodec struct {
	in  *dynamodb.UpdateItemInput
	out dynamodb.UpdateItemOutput
}

func newUpdateItemCodec(in *dynamodb.UpdateItemInput) *updateItemCodec {
	return &updateItemCodec{in: in}
}

func (c *updateItemCodec) output() smithy.Deserializable { return &c.out }
func (c *updateItemCodec) reset()                        { c.out = dynamodb.UpdateItemOutput{} }

func (c *updateItemCodec) encode(b []byte) ([]byte, bool) {
	in := c.in
	if in.AttributeUpdates != nil || in.ConditionalOperator != "" || in.Expected != nil {
		return nil, false
	}
	w := jw{b: b}
	w.open()
	w.str("ConditionExpression", in.ConditionExpression)
	w.names("ExpressionAttributeNames", in.ExpressionAttributeNames)
	if !w.item("ExpressionAttributeValues", in.ExpressionAttributeValues) || !w.item("Key", in.Key) {
		return nil, false
	}
	w.enum("ReturnConsumedCapacity", string(in.ReturnConsumedCapacity))
	w.enum("ReturnItemCollectionMetrics", string(in.ReturnItemCollectionMetrics))
	w.enum("ReturnValues", string(in.ReturnValues))
	w.enum("ReturnValuesOnConditionCheckFailure", string(in.ReturnValuesOnConditionCheckFailure))
	w.str("TableName", in.TableName)
	w.str("UpdateExpression", in.UpdateExpression)
	w.close()
	return w.b, true
}

func (c *updateItemCodec) decode(body []byte) bool {
	return decodeAttributes(body, &c.out.Attributes)
}

type deleteItemCodec struct {
	in  *dynamodb.DeleteItemInput
	out dynamodb.DeleteItemOutput
}

func newDeleteItemCodec(in *dynamodb.DeleteItemInput) *deleteItemCodec {
	return &deleteItemCodec{in: in}
}

func (c *deleteItemCodec) output() smithy.Deserializable { return &c.out }
func (c *deleteItemCodec) reset()                        { c.out = dynamodb.DeleteItemOutput{} }

func (c *deleteItemCodec) encode(b []byte) ([]byte, bool) {
	in := c.in
	if in.ConditionalOperator != "" || in.Expected != nil {
		return nil, false
	}
	w := jw{b: b}
	w.open()
	w.str("ConditionExpression", in.ConditionExpression)
	w.names("ExpressionAttributeNames", in.ExpressionAttributeNames)
	if !w.item("ExpressionAttributeValues", in.ExpressionAttributeValues) || !w.item("Key", in.Key) {
		return nil, false
	}
	w.enum("ReturnConsumedCapacity", string(in.ReturnConsumedCapacity))
	w.enum("ReturnItemCollectionMetrics", string(in.ReturnItemCollectionMetrics))
	w.enum("ReturnValues", string(in.ReturnValues))
	w.enum("ReturnValuesOnConditionCheckFailure", string(in.ReturnValuesOnConditionCheckFailure))
	w.str("TableName", in.TableName)
	w.close()
	return w.b, true
}

func (c *deleteItemCodec) decode(body []byte) bool {
	return decodeAttributes(body, &c.out.Attributes)
}

type queryCodec struct {
	in  *dynamodb.QueryInput
	out dynamodb.QueryOutput
}

func newQueryCodec(in *dynamodb.QueryInput) *queryCodec { return &queryCodec{in: in} }

func (c *queryCodec) output() smithy.Deserializable { return &c.out }
func (c *queryCodec) reset()                        { c.out = dynamodb.QueryOutput{} }

func (c *queryCodec) encode(b []byte) ([]byte, bool) {
	in := c.in
	if in.AttributesToGet != nil || in.ConditionalOperator != "" || in.KeyConditions != nil || in.QueryFilter != nil {
		return nil, false
	}
	w := jw{b: b}
	w.open()
	w.boolean("ConsistentRead", in.ConsistentRead)
	if !w.item("ExclusiveStartKey", in.ExclusiveStartKey) {
		return nil, false
	}
	w.names("ExpressionAttributeNames", in.ExpressionAttributeNames)
	if !w.item("ExpressionAttributeValues", in.ExpressionAttributeValues) {
		return nil, false
	}
	w.str("FilterExpression", in.FilterExpression)
	w.str("IndexName", in.IndexName)
	w.str("KeyConditionExpression", in.KeyConditionExpression)
	w.int32("Limit", in.Limit)
	w.str("ProjectionExpression", in.ProjectionExpression)
	w.enum("ReturnConsumedCapacity", string(in.ReturnConsumedCapacity))
	w.boolean("ScanIndexForward", in.ScanIndexForward)
	w.enum("Select", string(in.Select))
	w.str("TableName", in.TableName)
	w.close()
	return w.b, true
}

func (c *queryCodec) decode(body []byte) bool {
	return decodeTop(body, func(d *dec, k string) (bool, error) {
		var err error
		switch k {
		case "Items":
			c.out.Items, err = d.avMapList()
		case "Count":
			c.out.Count, err = d.int32()
		case "ScannedCount":
			c.out.ScannedCount, err = d.int32()
		case "LastEvaluatedKey":
			c.out.LastEvaluatedKey, err = d.avMap()
		default:
			return false, nil
		}
		return true, err
	})
}

// decodeAttributes decodes the answer of PutItem, UpdateItem or DeleteItem,
// whose one member is the item's Attributes (when ReturnValues asks).
func decodeAttributes(body []byte, into *map[string]types.AttributeValue) bool {
	return decodeTop(body, func(d *dec, k string) (bool, error) {
		if k == "Attributes" {
			m, err := d.avMap()
			*into = m
			return true, err
		}
		return false, nil
	})
}
