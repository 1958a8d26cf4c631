package ddbstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Two tables, both with PK and SK and expiry by TTLAttribute (unix seconds):
//
//   - the data table holds what the product is made of (tenants, channels,
//     tokens, custom fields, contacts, connections, dead deliveries) and
//     the Messenger webhook calls waiting for the intake. Its
//     NEW_AND_OLD_IMAGES stream feeds the trigger router (contacts) and the
//     Messenger intake (inbox items). Items that need a second access path
//     also carry GSI1PK/GSI1SK;
//   - the operations table holds what the trigger router need not see, kept
//     off the stream: the contacts' search entries (written in the same
//     transactions as their contacts; most contact writes move some), and
//     what the system writes while it works and forgets on its own by TTL:
//     rate-limit counters, delivery attempts (the activity report) and
//     idempotency records. These are the hottest writes of the system (one
//     counter per API call, one attempt per delivery, a few entries per
//     contact write); on the stream they would only be filtered out again.
//     Its GSI1 (keys only) serves tenant-wide searches and finds the
//     attempts of one delivery, for replay. The search index keeps an
//     exact count per value beside its entries (index.go).
//
// Both have point-in-time recovery.
//
// The CDK app and the local provisioning both read these names.
//
// Key layout of the data table (every key carries its tenant ID: settings
// live under TENANT#<tenantId>, each contact ID in a partition of its own,
// one item per channel that holds it):
//
//	PK                         SK                                   item
//	TENANT#<t>                 TENANT                               tenant
//	TENANTS                    TENANT#<t>                           tenant listing (admin)
//	TENANT#<t>                 CHANNEL#<c>                          channel
//	TENANT#<t>                 CHANNEL#<c>#TOKEN#<k>                channel token (masked, hash)
//	CRED#<sha256(token)>       CRED                                 credential lookup (authorizer)
//	TENANT#<t>                 FIELD#<id>                           custom field definition
//	TENANT#<t>                 FIELDSEQ                             custom field ID counter (n)
//	TENANT#<t>                 FIELDNAME#<lower(name)>              custom field name guard (field_id)
//	CONTACT#<t>#<id>           CONTACT#<c>                          a channel's contact (version-conditioned); its
//	                                                                identity is (tenant, channel, ID) (contactkeys.go)
//	CONTACT#<t>#<id>           CONTACT                              an account contact (channel ""; older versions
//	                                                                kept channels' contacts here too: contactkeys.go)
//	TENANT#<t>                 CONN#<id>                            connection (secrets included)
//	TENANT#<t>                 BRK#<id>                             the connection's circuit breaker (TTL; breaker.go),
//	                                                                and slow_until when an attempt was slow (inflight.go)
//	TENANT#<t>                 INF#<id>                             a slow connection's attempts in flight across
//	                                                                dispatchers: n, at (TTL; inflight.go)
//	TENANT#<t>                 GUARD#CONN#<c>                       the channel's connection guard: v, moved on by every
//	                                                                connection create (connguard.go)
//	TENANT#<t>                 DEAD#<deliveryId>                    dead delivery (TTL); also
//	                           GSI1PK DEAD#<t>, GSI1SK <diedAt:%010d>#<deliveryId>
//	INBOX#<t>#<c>              <receivedAt ms:%013d>#<random>       Messenger webhook call as received (TTL 7 d;
//	                                                                its stream record starts the Messenger intake)
//	TENANT#<t>                 CHANNEL#<c>#WHATSAPP                 a WhatsApp channel's Cloud API credentials
//	                                                                (whatsapp.go)
//	TENANT#<t>                 CHANNEL#<c>#TWILIO                   an SMS or voice channel's Twilio credentials (twilio.go)
//	WAPHONE#<phoneNumberId>    WAPHONE                              the channel of a phone number id, with its app
//	                                                                secret (one per id across tenants)
//	WABA#<wabaId>              CHANNEL#<t>#<c>                      a channel of a WABA, with its app secret
//	WAVERIFY#<sha256(token)>   CHANNEL#<t>#<c>                      a channel whose verify token hashes so
//	INSTANCESEQ                INSTANCESEQ                          the instance id counter (n)
//	INSTANCE#<n>               INSTANCE                             the channel of instance id n
//	WAINBOX#<t>#<c>            <receivedAt ms:%013d>#<random>       WhatsApp webhook call as received, for one
//	                                                                channel (TTL 7 d; starts the WhatsApp intake)
//	MSG#<t>#<messageId>        MSG                                  a message (messages.Message; the sender's claim is
//	                           GSI1PK MSGS#<t>#<c>#<contactId>,      on the operations table, CLAIM#); its INSERT's stream record
//	                           GSI1SK <createdAt ms:%013d>#<id>      queues it on the outbox (trigger router); GSI1 keys
//	                           GSI2PK CHMSGS#<t>#<c>,                only when it has a contact; GSI2 keys always: the
//	                           GSI2SK <createdAt ms:%013d>#<id>      channel's messages (messages.go)
//	PMSG#<kind>#<providerId>   PMSG                                 the provider's id of a message (WhatsApp's wamid) →
//	                                                                tenant_id, channel_id, message_id: status callbacks;
//	                                                                kept here before; now on the operations table
//	INSTALL#<uuid>             INSTALL                              a sender installation (seed 004; installations.
//	                           GSI1PK INSTALLS#<t>#<c>,              Installation: the secret only as secret_hash)
//	                           GSI1SK <createdAt ms:%013d>#<uuid>
//	TENANT#<t>                 AUTO#<id>                            an automation (automations.Automation, whole;
//	                                                                version-conditioned; automations.go)
//	TENANT#<t>                 GUARD#AUTO                           the tenant's automation guard: v, moved on by every
//	                                                                automation create (autoguard.go)
//	AUTOCALL#<t>#<deliveryId>  AUTOCALL                             an automation's call of a connection (TTL a day; its
//	                                                                INSERT's stream record queues the delivery: the
//	                                                                trigger router; autocalls.go)
//	TENANT#<t>                 INSTALLHOURS#<c>                     the channel's allowed hours, its installations'
//	                                                                default (installations.go)
//
// Key layout of the operations table (each searchable value in an index
// partition of its own):
//
//	PK                         SK                                   item
//	IDX#~<s>#<t>#<c>#<f>#<v>   <createdAt:%010d>#<id>               search entry (keys only) in shard <s:%02d>;
//	                           GSI1PK IDX#~<s>#<t>#*#<f>#<v>,        also in GSI1 (tenant-wide search)
//	                           GSI1SK = SK
//	IDX#=<s>#<t>#<f>#<v>       N                                    count of shard <s>'s entries: n (tenant-wide),
//	                                                                c:<c> (channel <c>) (index.go)
//	SCHEMA                     INDEX#sharded                        marker: a reindex completed here (reindex.go)
//	RL#<credentialId>#<window> RL                                   rate-limit counter (TTL)
//	IDEM#<scope>#<key>         IDEM                                 idempotency record (TTL)
//	ONCE#<t>#<c>#<eventKey>    ONCE                                 a Messenger event recorded (TTL 24 h; written
//	                                                                in the contact write's transaction)
//	WAMSG#<t>#<c>#<wamid>      WAMSG                                a WhatsApp inbound message recorded (TTL 8 d;
//	                                                                wainbound.go)
//	WIN#<t>#<c>#<address>      WIN                                  when the contact at address (E.164) last wrote to
//	                                                                channel <c>: at (ms), the 24-hour window (TTL 48 h)
//	PMSG#<kind>#<providerId>   PMSG                                 the provider's id of a message → tenant_id, channel_id,
//	                                                                message_id (status callbacks); written in the
//	                                                                transaction that records it sent (messages.go)
//	CLAIM#<t>#<messageId>      CLAIM                                the sender's claim of a queued message: claim
//	                                                                (token), claim_until (lease end, ms); released by
//	                                                                a retry, else kept to its TTL (lease + 1 h;
//	                                                                messagebatch.go)
//	RECENT#<t>#<c>#<trigger>   <at ms:%013d>#<random>               a recent payload of a trigger on channel <c>: p
//	                                                                (the payload, every field); what Zapier's editor
//	                                                                shows (TTL 7 d; recent.go)
//	COUNT#<t>#<shard:%02d>       CONTACTS                             one of the 8 shards of the tenant's contact count (n),
//	                                                                updated in every contact create's and delete's
//	                                                                transaction (counts.go)
//	CONN#<t>#<id>              ACT#<time ms:%013d>#<random>         the attempts one write (a dispatcher's
//	                                                                batch) logged on the connection: atts
//	                                                                (gzipped JSON array, newest first) and
//	                                                                wids (their webhook IDs, a string set);
//	                                                                <time> its newest; a write over 300 KB
//	                                                                takes several (TTL; no index; attempts.go)
//	CONN#<t>#<id>              WH#<webhookId>#<time ms:%013d>#<attempt:%02d>
//	                                                                a failed attempt's pointer: pack, the
//	                                                                SK of its ACT# item (TTL; replay); before
//	                                                                the packed items, the attempt itself
//	                                                                (read until they expire)
//	CONN#<t>#<id>              LOG#<time ms:%013d>#<random>         the keys of the WH# attempts one write
//	                                                                logged, <time> its newest (read until
//	                                                                they expire)
//	CONN#<t>#<id>              ATT#<time ms:%013d>#<webhookId>#<attempt:%02d>
//	                                                                delivery attempt as written before
//	                                                                the two above (read until they
//	                                                                expire); also GSI1PK
//	                                                                WH#<t>#<id>#<webhookId>, GSI1SK = SK
//	INSTALLQ#<uuid>            <seq:%016d>                          an installation's queue: one entry per message not
//	                                                                yet acked (msg, to, text, …; lease, lease_until;
//	                                                                hold_until while held); the message holds
//	                                                                install_seq (installations.go)
//	INSTALLST#<uuid>           SEQ                                  an installation's last sequence number landed (seq:
//	                                                                set in the add's transaction, which lands only if
//	                                                                it is below; a pull reads the queue up to it)
//	INSTALLST#<uuid>           STATE                                its last pull (seen, ms); seq, the last number given
//	                                                                (ADD, one per add; installations.go)
//	DUE#<minute>#<shard>       <at ms:%013d>#<kind>#<ref>           a scheduler due item (shared/scheduler)
//	CONN#<t>                   RATE                                 the tenant's delivery rate: its next send time (TTL;
//	                                                                breaker.go)
//	DUE#<minute>#<shard>       <at ms:%013d>#<kind>#<ref>           a due item of the scheduler: kind, tenant, ref,
//	                                                                at, payload, attempts, error; <minute> its UTC
//	                                                                minute 2006-01-02T15:04, <shard> 0..9 (due.go)
//	DUE#CURSOR                 CURSOR                               the scheduler's cursor: minute (unix s), the
//	                                                                first minute not known to be drained
//	DUE#DEAD                   <at ms:%013d>#<kind>#<ref>           a due item that failed every attempt: the
//	                                                                same attributes and dead_at (kept)
//	RUNC#<t>#<c>#<contactId>   RUN#<runId>                          an automation run (automations.Run, its steps
//	                           GSI1PK RUNS#<t>#<automationId>#<s>,   inline; <runId> starts with its start time, so
//	                           GSI1SK <runId>                       both listings sort by it; <s> 0..15: an
//	                                                                automation's runs spread; runs.go)
//	RUNC#<t>#<c>#<contactId>   ACTIVE#<automationId>                the contact's active run of the automation: run
//	                                                                (its ID); written with the run, removed by its end
//
// In search entries <c> is the channel ID ("" for account contacts), <f> a
// field key (std:<name>, cf:<id>) and <v> the value key, or h:<hex sha256>
// of it when it is longer than 200 bytes. <s> is the contact's shard,
// FNV-1a of its ID modulo IndexShards (8): every value's entries and
// counts are spread over 8 partitions, so that no value is a hot key.
// Entries are written, with the ADD to their shard's count, in the same
// transaction as their contact (contacts.go, index.go). Versions before the
// shards keyed entries IDX#<t>#<c>#<f>#<v> (GSI1PK IDX#<t>#*#<f>#<v>);
// Reindex moves them.
//
// Connection items (and channels, with Messenger's app secret, and
// WhatsApp credentials with their WAPHONE#/WABA# lookups, which copy the
// app secret) hold their secrets as plain attributes: both tables are encrypted at rest with the
// stack's customer-managed KMS key, but whoever may read an item reads its
// secrets, so IAM allows each function only the partition keys it needs
// (routes.Keys): the authorizer reads CRED# items only, and no function
// may Scan.
// Attempts (ActivityTTL) and dead deliveries (DeadTTL) expire by TTL and
// are not deleted with their connection (connections.go).
const (
	AttrPK     = "PK"
	AttrSK     = "SK"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	GSI1       = "GSI1"
	// GSI2 (data table only, sparse: only messages carry its keys) lists a
	// channel's messages, newest first.
	AttrGSI2PK   = "GSI2PK"
	AttrGSI2SK   = "GSI2SK"
	GSI2         = "GSI2"
	TTLAttribute = "ttl"
)

// CreateTableInput is the data table's definition used by local
// provisioning and tests: PK/SK, GSI1 and GSI2 with all attributes,
// on-demand, a NEW_AND_OLD_IMAGES stream; infra/ declares the same table
// with CDK constructs.
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	in := tableInput(name, types.ProjectionTypeAll)
	for _, n := range []string{AttrGSI2PK, AttrGSI2SK} {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS})
	}
	in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
		IndexName: aws.String(GSI2),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrGSI2PK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrGSI2SK), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	})
	in.StreamSpecification = &types.StreamSpecification{
		StreamEnabled:  aws.Bool(true),
		StreamViewType: types.StreamViewTypeNewAndOldImages,
	}
	return in
}

// CreateOpsTableInput is the operations table's definition used by local
// provisioning and tests: PK/SK, GSI1 with keys only, on-demand, no stream;
// infra/ declares the same table with CDK constructs.
func CreateOpsTableInput(name string) *dynamodb.CreateTableInput {
	return tableInput(name, types.ProjectionTypeKeysOnly)
}

// tableInput is what both tables share: string keys PK/SK, GSI1 on
// GSI1PK/GSI1SK with the given projection, on-demand billing.
func tableInput(name string, gsi1 types.ProjectionType) *dynamodb.CreateTableInput {
	attr := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr(AttrPK), attr(AttrSK), attr(AttrGSI1PK), attr(AttrGSI1SK)},
		KeySchema:            keys(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(GSI1),
			KeySchema:  keys(AttrGSI1PK, AttrGSI1SK),
			Projection: &types.Projection{ProjectionType: gsi1},
		}},
	}
}
