package ddbstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/scheduler"
)

// DueItem is the transactional put of a due item on the operations table
// (opsTable), for a store that schedules work together with its own write.
func DueItem(opsTable string, d scheduler.Due) types.TransactWriteItem {
	pk, sk := scheduler.Keys(d)
	it := map[string]types.AttributeValue{
		AttrPK: avS(pk), AttrSK: avS(sk),
		"kind": avS(d.Kind), "tenant": avS(d.TenantID), "ref": avS(d.Ref),
		"at": avN(d.At.UnixMilli()),
	}
	if len(d.Payload) > 0 {
		it["payload"] = &types.AttributeValueMemberB{Value: d.Payload}
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(opsTable), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}
}
