package ddbstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The single table. Every item has PK and SK; items that need a second access
// path also carry GSI1PK/GSI1SK. Items that expire carry TTLAttribute (unix
// seconds). The CDK app and the local provisioning both read these names.
//
// Key layout (all tenant data lives under TENANT#<tenantId>):
//
//	PK                         SK                                   item
//	TENANT#<t>                 TENANT                               tenant
//	TENANTS                    TENANT#<t>                           tenant listing (admin)
//	TENANT#<t>                 CHANNEL#<c>                          channel
//	TENANT#<t>                 CHANNEL#<c>#TOKEN#<k>                channel token (masked, hash)
//	TENANT#<t>                 SECRET                               account secret key (masked, hash)
//	CRED#<sha256(token)>       CRED                                 credential lookup (authorizer)
//	RL#<credentialId>#<window> RL                                   rate-limit counter (TTL)
const (
	AttrPK       = "PK"
	AttrSK       = "SK"
	AttrGSI1PK   = "GSI1PK"
	AttrGSI1SK   = "GSI1SK"
	GSI1         = "GSI1"
	TTLAttribute = "ttl"
)

// CreateTableInput is the table definition used by local provisioning and
// tests; infra/ declares the same table with CDK constructs.
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			s(AttrPK), s(AttrSK), s(AttrGSI1PK), s(AttrGSI1SK),
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(GSI1),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrGSI1PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrGSI1SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}
