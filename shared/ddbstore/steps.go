package ddbstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// StepReads reads what an automation step starts from (shared/autorun's
// Engine.Load): the run (operations table), its automation and its
// contact (data table), by key, in one strongly consistent BatchGetItem
// instead of three reads one after another. The engine takes ten thousand
// steps of a burst through the scheduler: each round trip saved is one
// less call per step.
type StepReads struct {
	API      API
	Table    string // the data table: automations, contacts
	OpsTable string // the operations table: runs
}

// Load reads the run runID of the contact, automation automationID and
// the contact contactID of channelID (its own key; an account contact's
// when channelID is ""). A nil result is an item that is not there; a
// contact under its old key (contactkeys.go) is not read here: the
// caller reads it the usual way.
func (s *StepReads) Load(ctx context.Context, tenantID, channelID, contactID, runID, automationID string) (*automations.Run, *automations.Automation, *contacts.Contact, error) {
	runKey := key(runsPK(tenantID, channelID, contactID), skRunPrefix+runID)
	autoKey := key(tenantPK(tenantID), automationSK(automationID))
	ctKey := contactKey(tenantID, channelID, contactID)
	req := map[string]types.KeysAndAttributes{
		s.OpsTable: {Keys: []map[string]types.AttributeValue{runKey}, ConsistentRead: aws.Bool(true)},
		s.Table:    {Keys: []map[string]types.AttributeValue{autoKey, ctKey}, ConsistentRead: aws.Bool(true)},
	}
	var got []map[string]types.AttributeValue
	for n := 0; len(req) > 0; n++ {
		if n > batchRetries {
			return nil, nil, nil, fmt.Errorf("read step %s: keys still unprocessed after %d retries", runID, batchRetries)
		}
		if n > 0 {
			if err := sleep(ctx, batchBackoff(n)); err != nil {
				return nil, nil, nil, err
			}
		}
		out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read step %s: %w", runID, err)
		}
		for _, items := range out.Responses {
			got = append(got, items...)
		}
		req = out.UnprocessedKeys
	}
	var (
		run  *automations.Run
		auto *automations.Automation
		ct   *contacts.Contact
	)
	is := func(m, k map[string]types.AttributeValue) bool {
		pk, _ := m[AttrPK].(*types.AttributeValueMemberS)
		sk, _ := m[AttrSK].(*types.AttributeValueMemberS)
		kp, _ := k[AttrPK].(*types.AttributeValueMemberS)
		ks, _ := k[AttrSK].(*types.AttributeValueMemberS)
		return pk != nil && sk != nil && pk.Value == kp.Value && sk.Value == ks.Value
	}
	for _, m := range got {
		switch {
		case is(m, runKey):
			run = new(automations.Run)
			if err := attributevalue.UnmarshalMap(m, run); err != nil {
				return nil, nil, nil, fmt.Errorf("unmarshal run %s: %w", runID, err)
			}
		case is(m, autoKey):
			auto = new(automations.Automation)
			if err := attributevalue.UnmarshalMap(m, auto); err != nil {
				return nil, nil, nil, fmt.Errorf("unmarshal automation %s: %w", automationID, err)
			}
		case is(m, ctKey):
			var c contacts.Contact
			if err := (*contactItem)(&c).decodeItem(m); err != nil {
				return nil, nil, nil, fmt.Errorf("unmarshal contact %s: %w", contactID, err)
			}
			// SK CONTACT holds an account contact, or a channel's contact
			// under the old layout (not this one).
			if c.ChannelID == channelID && c.TenantID == tenantID && c.ID == contactID {
				ct = &c
			}
		}
	}
	return run, auto, ct, nil
}
