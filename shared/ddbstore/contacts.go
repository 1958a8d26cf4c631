package ddbstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// Contacts stores contacts, their search index entries (this file) and the
// tenants' custom field definitions (fields.go).
//
// A contact is one item of the data table; every (field, value) pair it can
// be found by (contacts.SearchTerms) is one small index item of the
// operations table, written, moved and deleted in the same transaction as
// the contact (a transaction may span tables), with the ADD to the value's
// count. A value's entries are spread over IndexShards partitions (index.go).
// A search then reads the value's counts and Queries its shards: it never
// reads the rest of the tenant. The index stays off the data table's stream: the trigger router
// reads contact changes only, and every streamed write costs.
type Contacts struct {
	API   API
	Table string // the data table: contacts, field definitions
	// OpsTable is the operations table, which holds the search index items.
	// Only contact writes and searches need it.
	OpsTable string
	// MaxContacts is how many contacts a tenant may have (0: no limit): a
	// create beyond it is refused (counts.go).
	MaxContacts int64

	// shards is the number of index shards (index.go) when a test sets
	// one; 0 is IndexShards.
	shards int
}

// errNoIndex is the error of a contact write or search without Index.
var errNoIndex = errors.New("ddbstore: Contacts.OpsTable (the operations table, which holds the search index) is not set")

var _ contacts.Store = (*Contacts)(nil)

// Limits of a single write and of a search.
const (
	// MaxTransactItems is DynamoDB's limit of actions in one transaction.
	MaxTransactItems = 100
	// MaxSearchOffset is the deepest a search page may start: skipping costs
	// a read of every skipped index entry.
	MaxSearchOffset = 10000
	// MaxSearchLimit is the largest page a search returns.
	MaxSearchLimit = 100
	// maxIndexValue is the longest value key kept verbatim in an index key;
	// longer ones are hashed (partition keys are limited to 2048 bytes).
	maxIndexValue = 200
)

// Errors of this adapter that are not domain errors.
var (
	// ErrTooManyActions means a write would need more than MaxTransactItems
	// actions; nothing was written.
	ErrTooManyActions = errors.New("write needs more than 100 transaction actions")
	// ErrBadQuery means a search asked for an impossible or too deep page.
	ErrBadQuery = errors.New("invalid search")
)

// Key builders of contacts and their index entries (see schema.go).
func contactPK(tenantID, id string) string { return "CONTACT#" + tenantID + "#" + id }

const skContact = "CONTACT"

// indexValue is the value part of an index key: the value key itself, or
// "h:" + hex(sha256) when it is longer than maxIndexValue bytes.
func indexValue(valueKey string) string {
	if len(valueKey) <= maxIndexValue {
		return valueKey
	}
	sum := sha256.Sum256([]byte(valueKey))
	return "h:" + hex.EncodeToString(sum[:])
}

// indexPK is the partition of one value of one field in one channel in the
// unsharded layout, which Reindex and repairTerms delete (index.go).
func indexPK(tenantID, channelID, fieldKey, valueKey string) string {
	return "IDX#" + tenantID + "#" + channelID + "#" + fieldKey + "#" + indexValue(valueKey)
}

// indexSK orders a value's entries by creation time, then contact ID.
func indexSK(createdAt int64, contactID string) string {
	return fmt.Sprintf("%010d#%s", createdAt, contactID)
}

// versionIs is the condition that the stored contact has version v.
func versionIs(v int64) (*string, map[string]types.AttributeValue) {
	return aws.String("version = :v"), map[string]types.AttributeValue{
		":v": &types.AttributeValueMemberN{Value: fmt.Sprint(v)},
	}
}

// transact runs one transaction of at most MaxTransactItems actions.
func (s *Contacts) transact(ctx context.Context, items []types.TransactWriteItem) error {
	if len(items) > MaxTransactItems {
		return fmt.Errorf("%w (%d needed)", ErrTooManyActions, len(items))
	}
	if s.OpsTable == "" {
		return errNoIndex
	}
	err := s.transactRetrying(ctx, items)
	if err != nil && strings.Contains(err.Error(), "Item size has exceeded") {
		// The domain keeps contacts under contacts.MaxContactBytes; should
		// an item still be refused for its size, say so rather than fail.
		return apperr.TooLarge("The contact would be larger than DynamoDB's 400 KB item limit; clear values or remove tags first.").Wrap(err)
	}
	return err
}

// cancelled reports whether a transaction was cancelled because of a failed
// condition or a concurrent transaction on the same items.
func cancelled(err error) bool {
	if isConditionFailure(err) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return true
			}
		}
	}
	return false
}

// GetContact reads the contact id of a tenant's channel (strongly
// consistent, so that a read-modify-write sees the latest version): its
// own key, or when that holds none the old key (contactkeys.go).
func (s *Contacts) GetContact(ctx context.Context, tenantID, channelID, id string) (contacts.Contact, error) {
	var c contacts.Contact
	notFound := apperr.NotFound("Contact", id)
	err := getItem(ctx, s.API, s.Table, contactPK(tenantID, id), contactSK(channelID), true, (*contactItem)(&c), notFound)
	if err == nil && c.ChannelID != channelID {
		// SK CONTACT under the old layout: a channel's contact not moved
		// yet, not an account contact.
		return contacts.Contact{}, notFound
	}
	if err == notFound {
		if old, ok, lerr := s.legacyContact(ctx, tenantID, channelID, id); lerr != nil {
			return contacts.Contact{}, lerr
		} else if ok {
			return old, nil
		}
	}
	return c, err
}

// CreateContact writes a new contact (Version 1) and its index entries;
// an apperr.KindExists if the ID is taken.
func (s *Contacts) CreateContact(ctx context.Context, c contacts.Contact) error {
	if c.Version != 1 {
		return fmt.Errorf("create contact %s: version is %d, must be 1", c.ID, c.Version)
	}
	// The counter's shard this create counts in (counts.go): the one its
	// ID hashes to, or one with room when that one is at its share.
	shard := shardOf(c.ID, ContactCountShards)
	var items []types.TransactWriteItem
	var err error
	for try := 0; ; try++ {
		c.CountShard = shard + 1
		ci, ierr := item(contactPK(c.TenantID, c.ID), contactSK(c.ChannelID), c)
		if ierr != nil {
			return ierr
		}
		items = []types.TransactWriteItem{putNew(s.Table, ci)}
		items = s.withOnce(items, c)
		items = append(items, s.termsActions(c, termsOf(c), true)...)
		items = append(items, s.countContact(c.TenantID, shard, 1)) // last
		err = s.transact(ctx, items)
		if s.MaxContacts == 0 || failedCondition(err) != len(items)-1 {
			break
		}
		next, ok, rerr := s.shardWithRoom(ctx, c.TenantID)
		if rerr != nil {
			return rerr
		}
		if !ok || try >= 2*ContactCountShards {
			return s.contactLimitReached(err)
		}
		shard = next
	}
	if onceFailed(err, c) {
		return contacts.ErrRecorded
	}
	if isConditionFailure(err) {
		return apperr.Exists("Contact %s already exists.", c.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("create contact %s: %w", c.ID, err)
	}
	return nil
}

// UpdateContact replaces prev by next if the stored version is still
// prev.Version, deletes the index entries of terms that disappeared or
// changed and puts those that are new or changed; unchanged entries are not
// touched. an apperr.KindConflict if the contact changed (or vanished) since prev was read.
func (s *Contacts) UpdateContact(ctx context.Context, prev, next contacts.Contact) error {
	if prev.TenantID != next.TenantID || prev.ID != next.ID || prev.ChannelID != next.ChannelID {
		return fmt.Errorf("update contact %s: tenant, channel and ID may not change", prev.ID)
	}
	if next.Version != prev.Version+1 {
		return fmt.Errorf("update contact %s: version %d does not follow %d", next.ID, next.Version, prev.Version)
	}
	if prev.LegacyKey {
		if err := s.moveKey(ctx, prev); errors.Is(err, errKeyTaken) {
			return apperr.Conflict("contact").Wrap(err) // read again: its own key's item
		} else if err != nil {
			return err
		}
		prev.LegacyKey, next.LegacyKey = false, false
	}
	ni, err := item(contactPK(next.TenantID, next.ID), contactSK(next.ChannelID), next)
	if err != nil {
		return err
	}
	cond, vals := versionIs(prev.Version)
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.Table), Item: ni, ConditionExpression: cond, ExpressionAttributeValues: vals,
	}}}
	items = s.withOnce(items, next)
	removed, added := termsDiff(prev, next)
	err = s.indexedWrite(ctx, prev, &next, items, removed, added)
	if onceFailed(err, next) {
		return contacts.ErrRecorded
	}
	return s.conditionalErr("update contact "+next.ID, err)
}

// DeleteContact removes a contact and its index entries if the stored
// version is still c.Version; an apperr.KindConflict otherwise.
func (s *Contacts) DeleteContact(ctx context.Context, c contacts.Contact) error {
	cond, vals := versionIs(c.Version)
	items := []types.TransactWriteItem{{Delete: &types.Delete{
		TableName: aws.String(s.Table), Key: storedKey(c),
		ConditionExpression: cond, ExpressionAttributeValues: vals,
	}}}
	if c.CountShard > 0 {
		items = append(items, s.countContact(c.TenantID, c.CountShard-1, -1))
	}
	err := s.indexedWrite(ctx, c, nil, items, termsOf(c), nil)
	return s.conditionalErr("delete contact "+c.ID, err)
}

// onceKeyPrefix starts the partition key of an event's mark (Contact.Once)
// on the operations table.
const onceKeyPrefix = "ONCE#"

// withOnce adds c's Once mark, if any, to a contact write's transaction
// (items holds the contact's write alone, so the mark is item 1): a
// conditional Put on the operations table that fails if the mark is there.
func (s *Contacts) withOnce(items []types.TransactWriteItem, c contacts.Contact) []types.TransactWriteItem {
	if c.Once == nil {
		return items
	}
	m := key(onceKeyPrefix+c.TenantID+"#"+c.Once.Key, "ONCE")
	m["contact_id"] = &types.AttributeValueMemberS{Value: c.ID}
	m[TTLAttribute] = &types.AttributeValueMemberN{Value: fmt.Sprint(c.Once.Expires)}
	return append(items, putNew(s.OpsTable, m))
}

// onceFailed reports whether a contact write was refused because its Once
// mark exists (the mark is the transaction's item 1).
func onceFailed(err error, c contacts.Contact) bool {
	return c.Once != nil && failedCondition(err) == 1
}

// conditionalErr is the answer of a version-conditioned write: a
// cancellation means the contact changed since it was read (an
// apperr.KindConflict).
func (s *Contacts) conditionalErr(what string, err error) error {
	if cancelled(err) {
		return apperr.Conflict("contact").Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Search returns the page [Offset, Offset+Limit) of the contacts whose field
// q.FieldKey has the value key q.ValueKey, oldest first (created_at, then
// ID), and the exact number of all matches. A channel's search reads the
// value's index shards on the operations table (strongly consistent); a
// tenant-wide search (ChannelID "") their GSI1 partitions (eventually
// consistent).
//
// Cost (index.go): one BatchGetItem of the value's IndexShards count items
// gives the Total; at the same time every shard is queried, in parallel,
// for about its share of Offset+Limit entries (projection SK, which ends
// with the contact ID), and their pages are merged in order (a shard is
// read again only when the merge needs more of it). The cost grows with Offset+Limit, never with the number of
// contacts that have the value, nor with the size of the tenant. Offset is
// capped at MaxSearchOffset. The page's contacts are then read with one
// strongly consistent BatchGetItem; entries whose contact vanished between
// the two reads are skipped (the page is then shorter than Limit).
func (s *Contacts) Search(ctx context.Context, q contacts.Query) (contacts.Page, error) {
	if err := checkQuery(q); err != nil {
		return contacts.Page{}, err
	}
	if s.OpsTable == "" {
		return contacts.Page{}, errNoIndex
	}
	return s.searchSharded(ctx, q)
}

// checkQuery refuses searches without a tenant or field, and pages that are
// negative, too deep or too large.
func checkQuery(q contacts.Query) error {
	switch {
	case q.TenantID == "" || q.FieldKey == "":
		return fmt.Errorf("%w: tenant and field are required", ErrBadQuery)
	case q.Offset < 0 || q.Offset > MaxSearchOffset:
		return fmt.Errorf("%w: offset %d is outside 0..%d", ErrBadQuery, q.Offset, MaxSearchOffset)
	case q.Limit < 0 || q.Limit > MaxSearchLimit:
		return fmt.Errorf("%w: limit %d is outside 0..%d", ErrBadQuery, q.Limit, MaxSearchLimit)
	}
	return nil
}

// maxBatchGet is DynamoDB's limit of keys in one BatchGetItem.
const maxBatchGet = 100

// batchRetries bounds the BatchGetItem calls spent on UnprocessedKeys.
const batchRetries = 8

// batchBackoff is the wait before retry n (1, 2, ...) of unprocessed keys.
var batchBackoff = func(n int) time.Duration {
	return min(time.Duration(1<<n)*10*time.Millisecond, time.Second)
}

// getContacts reads contacts by channel and ID and returns them in the
// order of ids, leaving out the ones that do not exist.
func (s *Contacts) getContacts(ctx context.Context, tenantID string, ids []contactRef) ([]contacts.Contact, error) {
	byID := map[contactRef]contacts.Contact{}
	for chunk := range slices.Chunk(unique(ids), maxBatchGet) {
		if err := s.batchGet(ctx, tenantID, chunk, byID); err != nil {
			return nil, err
		}
	}
	out := make([]contacts.Contact, 0, len(ids))
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			out = append(out, c)
			delete(byID, id)
		}
	}
	return out, nil
}

// unique drops repeated IDs (BatchGetItem refuses duplicate keys).
func unique(ids []contactRef) []contactRef {
	seen := map[contactRef]bool{}
	var out []contactRef
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// batchGet reads up to maxBatchGet contacts into into, strongly consistent,
// retrying unprocessed keys with backoff.
func (s *Contacts) batchGet(ctx context.Context, tenantID string, ids []contactRef, into map[contactRef]contacts.Contact) error {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = contactKey(tenantID, id.Channel, id.ID)
	}
	req := map[string]types.KeysAndAttributes{s.Table: {Keys: keys}}
	for n := 0; len(req) > 0; n++ {
		if n > 0 {
			if n > batchRetries {
				return fmt.Errorf("read contacts: keys still unprocessed after %d retries", batchRetries)
			}
			if err := sleep(ctx, batchBackoff(n)); err != nil {
				return fmt.Errorf("read contacts: %w", err)
			}
		}
		for t, ka := range req {
			ka.ConsistentRead = aws.Bool(true)
			req[t] = ka
		}
		out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return fmt.Errorf("read contacts: %w", err)
		}
		var cs []contacts.Contact
		if err := attributevalue.UnmarshalListOfMaps(out.Responses[s.Table], &cs); err != nil {
			return fmt.Errorf("unmarshal contacts: %w", err)
		}
		for _, c := range cs {
			into[contactRef{c.ChannelID, c.ID}] = c
		}
		req = out.UnprocessedKeys
	}
	return nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
