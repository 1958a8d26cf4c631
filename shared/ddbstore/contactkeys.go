package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// A contact's identity is (tenant, channel, ID): the partition is the
// tenant and the ID (contactPK), the sort key the channel (contactSK). A
// channel's own IDs (a Messenger PSID is page-scoped; a WhatsApp phone, a
// Viber ID) are per channel, so the same ID in two channels is two items of
// one partition, and a channel reads its own by key without ever reading
// another channel's. The account API, which sees the whole tenant, reads
// every channel's contact with an ID in one Query of the partition.
//
// Versions before this kept every contact at SK "CONTACT" (the sort key
// account contacts still have), one per tenant and ID whatever its
// channel. Such a channel's contact is read there when its own key holds
// none (GetContact, searches) and moved to its own key before its next write
// (moveKey); MigrateContactKeys moves them all.

// contactSK is the sort key of a contact of channelID: "CONTACT" for an
// account contact (channel ""), "CONTACT#<channel>" for a channel's.
func contactSK(channelID string) string {
	if channelID == "" {
		return skContact
	}
	return skContact + "#" + channelID
}

// contactKey is the key of the contact id of channelID in tenantID.
func contactKey(tenantID, channelID, id string) map[string]types.AttributeValue {
	return key(contactPK(tenantID, id), contactSK(channelID))
}

// storedKey is the key c is stored under: its own, or the one it was read
// from (c.LegacyKey).
func storedKey(c contacts.Contact) map[string]types.AttributeValue {
	if c.LegacyKey {
		return key(contactPK(c.TenantID, c.ID), skContact)
	}
	return contactKey(c.TenantID, c.ChannelID, c.ID)
}

// AttrKeyMoved marks the item a move to the contact's own key wrote (unix
// seconds); the next write of the contact drops it. The trigger router
// skips the INSERT that carries it: the contact did not change.
const AttrKeyMoved = "key_moved_at"

// legacyContact reads the contact id of channelID stored under the old key
// (SK "CONTACT"), if one is there and is that channel's.
func (s *Contacts) legacyContact(ctx context.Context, tenantID, channelID, id string) (contacts.Contact, bool, error) {
	if channelID == "" {
		return contacts.Contact{}, false, nil // account contacts keep that key
	}
	var c contacts.Contact
	errNone := apperr.NotFound("Contact", id)
	err := getItem(ctx, s.API, s.Table, contactPK(tenantID, id), skContact, true, (*contactItem)(&c), errNone)
	if err == errNone || (err == nil && c.ChannelID != channelID) {
		return contacts.Contact{}, false, nil
	}
	if err != nil {
		return contacts.Contact{}, false, err
	}
	c.LegacyKey = true
	return c, true, nil
}

// ContactsByID lists the tenant's contacts whose ID is id: every channel's
// and the account's, from one strongly consistent Query of the ID's
// partition.
func (s *Contacts) ContactsByID(ctx context.Context, tenantID, id string) ([]contacts.Contact, error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: contactPK(tenantID, id)},
			":sk": &types.AttributeValueMemberS{Value: skContact},
		},
		ConsistentRead: aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("read contacts %s: %w", id, err)
	}
	var out, legacy []contacts.Contact
	own := map[string]bool{} // channels with a contact under its own key
	for _, it := range items {
		var c contacts.Contact
		if err := (*contactItem)(&c).decodeItem(it); err != nil {
			return nil, fmt.Errorf("unmarshal contact %s: %w", id, err)
		}
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		switch {
		case sk == nil:
		case sk.Value == contactSK(c.ChannelID):
			own[c.ChannelID] = true
			out = append(out, c)
		case sk.Value == skContact:
			c.LegacyKey = true
			legacy = append(legacy, c)
		}
	}
	for _, c := range legacy {
		if !own[c.ChannelID] { // else its own key's item is the contact
			out = append(out, c)
		}
	}
	return out, nil
}

// errKeyTaken is moveKey's error when the contact's own key is already
// taken (by a contact created there while the old item was not yet moved).
var errKeyTaken = errors.New("the contact's own key is taken")

// moveKey moves c, read under the old key (c.LegacyKey), to its own key:
// one transaction deleting the old item if it is still at c.Version and
// putting the same contact under its own key, marked AttrKeyMoved. The
// search entries stay as they are (their keys do not hold the contact's
// key). An apperr.KindConflict if the old item changed or vanished; an
// errKeyTaken if the own key is taken.
func (s *Contacts) moveKey(ctx context.Context, c contacts.Contact) error {
	pk, sk := contactPK(c.TenantID, c.ID), contactSK(c.ChannelID)
	it, err := item(pk, sk, c)
	if err != nil {
		return err
	}
	it[AttrKeyMoved] = &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Unix())}
	cond, vals := versionIs(c.Version)
	err = s.transact(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(pk, skContact),
			ConditionExpression: aws.String("channel_id = :c AND " + *cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":c": &types.AttributeValueMemberS{Value: c.ChannelID}, ":v": vals[":v"],
			}}},
		putNew(s.Table, it),
	})
	switch {
	case err == nil:
		return nil
	case failedCondition(err) == 1:
		return fmt.Errorf("move contact %s of %s: %w", c.ID, c.ChannelID, errKeyTaken)
	case cancelled(err):
		return apperr.Conflict("contact").Wrap(err)
	}
	return fmt.Errorf("move contact %s of %s: %w", c.ID, c.ChannelID, err)
}

// ContactKeyStats counts what MigrateContactKeys did.
type ContactKeyStats struct {
	Moved   int // channels' contacts moved to their own key
	Retried int // re-read because they changed meanwhile
	Clashed int // left where they were: their own key was taken
}

// MigrateContactKeys moves every channel's contact that versions before
// channel-scoped identity stored at SK "CONTACT" to its own key
// (CONTACT#<channel>): one Scan of the data table, one transaction per
// contact, each conditioned on the contact's version, so it is safe while
// the API serves (a contact written meanwhile is read again and moved as it
// now is; one a write already moved is skipped). It is idempotent and
// resumable: a run that stops leaves each contact either moved or where it
// was, and the next run moves only what is left. The moves fire no webhook
// (the trigger router skips items marked AttrKeyMoved). A contact whose own
// key is already taken is left at the old key and counted in Clashed.
// progress, when set, is called after every Scan page.
func (s *Contacts) MigrateContactKeys(ctx context.Context, progress func(ContactKeyStats)) (ContactKeyStats, error) {
	var st ContactKeyStats
	api, ok := s.API.(reindexAPI)
	if !ok {
		return st, fmt.Errorf("migrate contact keys: %T cannot Scan", s.API)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.Table),
		FilterExpression:          aws.String("begins_with(#pk, :contact) AND #sk = :sk AND attribute_exists(channel_id) AND channel_id <> :none"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":contact": &types.AttributeValueMemberS{Value: "CONTACT#"}, ":sk": &types.AttributeValueMemberS{Value: skContact}, ":none": &types.AttributeValueMemberS{Value: ""}},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		page, err := api.Scan(ctx, in)
		if err != nil {
			return st, fmt.Errorf("migrate contact keys: scan %s: %w", s.Table, err)
		}
		for _, it := range page.Items {
			var c contacts.Contact
			if err := (*contactItem)(&c).decodeItem(it); err != nil {
				return st, fmt.Errorf("migrate contact keys: unmarshal: %w", err)
			}
			if c.ChannelID == "" || c.TenantID == "" || c.ID == "" {
				continue
			}
			c.LegacyKey = true
			if err := s.migrateContact(ctx, c, &st); err != nil {
				return st, err
			}
		}
		if progress != nil {
			progress(st)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return st, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// migrateContact moves c, re-reading it (up to reindexRetries times) while
// it changes under the move.
func (s *Contacts) migrateContact(ctx context.Context, c contacts.Contact, st *ContactKeyStats) error {
	for range reindexRetries {
		err := s.moveKey(ctx, c)
		switch {
		case err == nil:
			st.Moved++
			return nil
		case errors.Is(err, errKeyTaken):
			st.Clashed++
			return nil
		case !apperr.Is(err, apperr.KindConflict):
			return fmt.Errorf("migrate contact keys: %w", err)
		}
		st.Retried++
		cur, found, err := s.legacyContact(ctx, c.TenantID, c.ChannelID, c.ID)
		if err != nil {
			return fmt.Errorf("migrate contact keys: %w", err)
		}
		if !found {
			return nil // moved by a write, or deleted, meanwhile
		}
		c = cur
	}
	return fmt.Errorf("migrate contact keys: contact %s of %s changed %d times while being moved", c.ID, c.ChannelID, reindexRetries)
}

// markerContactKeysSK is the operations table's marker (under markerPK)
// that MigrateContactKeys ran to the end there.
const markerContactKeysSK = "CONTACTKEYS#channel"

// MigrateContactKeysOnce runs MigrateContactKeys unless the operations
// table's marker says it already completed, and sets the marker when it
// completes. It reports whether it ran. `make run` calls it on start.
func (s *Contacts) MigrateContactKeysOnce(ctx context.Context, progress func(ContactKeyStats)) (bool, ContactKeyStats, error) {
	return runOnce(ctx, s.API, s.OpsTable, markerContactKeysSK, "migrate contact keys", func() (ContactKeyStats, error) { return s.MigrateContactKeys(ctx, progress) })
}

// contactRef names a contact of a tenant: its channel ("" for the account)
// and ID.
type contactRef struct{ Channel, ID string }

// entryRef is the contact a search entry points to: the ID ends its sort
// key (<createdAt>#<id>), the channel is the part of its partition key
// after the tenant's (IDX#~<shard>#<t>#<c>#… on the sharded index, index.go;
// IDX#<t>#<c>#… on the unsharded layout before it).
func entryRef(it map[string]types.AttributeValue) (contactRef, bool) {
	pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return contactRef{}, false
	}
	_, id, ok := strings.Cut(sk.Value, "#")
	parts := strings.SplitN(pk.Value, "#", 5)
	at := 2
	if len(parts) > 1 && strings.HasPrefix(parts[1], "~") {
		at = 3
	}
	if !ok || id == "" || len(parts) < at+2 {
		return contactRef{}, false
	}
	return contactRef{Channel: parts[at], ID: id}, true
}

// withLegacy completes a search page: the channels' contacts of ids that
// found holds none of are read under the old key (those not moved yet).
// The page keeps the order of ids.
func (s *Contacts) withLegacy(ctx context.Context, tenantID string, ids []contactRef, found []contacts.Contact) ([]contacts.Contact, error) {
	have := map[contactRef]contacts.Contact{}
	for _, c := range found {
		have[contactRef{c.ChannelID, c.ID}] = c
	}
	out := make([]contacts.Contact, 0, len(ids))
	for _, ref := range ids {
		c, ok := have[ref]
		if !ok && ref.Channel != "" {
			var err error
			if c, ok, err = s.legacyContact(ctx, tenantID, ref.Channel, ref.ID); err != nil {
				return nil, err
			}
		}
		if ok {
			out = append(out, c)
			delete(have, ref)
		}
	}
	return out, nil
}
