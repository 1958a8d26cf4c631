// Command reindex rebuilds the contacts' search index on the operations
// table from the contacts of the data table (sharded, with its per-value
// counts), removes the unsharded entries that versions before the shards
// kept there, and the index items that versions before the operations
// table kept in the data table (see ddbstore.Contacts.Reindex); then it
// moves the channels' contacts that versions before channel-scoped contact
// identity kept under a key without their channel to their own key
// (ddbstore.Contacts.MigrateContactKeys); last it counts the contacts that
// versions before the tenants' contact counters created in those counters
// (ddbstore.Contacts.BackfillContactCounts: without it the contact limit
// would let such a tenant past it); and it gives the messages that versions
// before the channel's message listing (GET /v1/messages) stored without
// its index keys those keys (ddbstore.Messages.IndexChannelMessages). Run it once after deploying this
// version over a deployment that has contacts, with the credentials you
// deploy with:
//
//	go run ./infra/reindex -table <TableName> -ops <OpsTableName> [-max-contacts N]
//
// (-max-contacts is the stage's contacts-per-tenant limit, by default
// LIMIT_CONTACTS_PER_TENANT or its default: the counts are spread over the
// counter's shards to fit it.)
// (the stack's outputs name both tables). It is idempotent and resumable
// (run it again after an interruption: nothing is counted twice), and safe
// while the API serves: until it ends, searches may miss contacts written
// before the upgrade. `make run` does the same for its local data on start.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/limits"
)

func main() {
	table := flag.String("table", "", "the data table (stack output TableName)")
	ops := flag.String("ops", "", "the operations table (stack output OpsTableName)")
	force := flag.Bool("force", false, "rebuild even if a run already completed (the operations table keeps a marker)")
	lim, err := limits.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reindex:", err)
		os.Exit(2)
	}
	maxContacts := flag.Int64("max-contacts", lim.ContactsPerTenant, "the stage's contacts per tenant (LIMIT_CONTACTS_PER_TENANT, -c contactsPerTenant)")
	flag.Parse()
	if *table == "" || *ops == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reindex: load AWS config:", err)
		os.Exit(1)
	}
	s := &ddbstore.Contacts{API: dynamodb.NewFromConfig(cfg), Table: *table, OpsTable: *ops, MaxContacts: *maxContacts}
	printed := false
	progress := func(st ddbstore.ReindexStats) {
		printed = true
		fmt.Printf("\r%d contacts, %d entries, %d old items removed", st.Contacts, st.Entries, st.Removed)
	}
	ran, st := true, ddbstore.ReindexStats{}
	if *force {
		st, err = s.Reindex(ctx, progress)
	} else {
		ran, st, err = s.ReindexOnce(ctx, progress)
	}
	if printed {
		fmt.Println()
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "reindex:", err)
		os.Exit(1)
	case !ran:
		fmt.Println("search index: already done: a previous run completed on this operations table (-force to rebuild)")
	default:
		fmt.Printf("search index done: %d contacts (%d re-read as they changed), %d entries, %d old items removed\n", st.Contacts, st.Retried, st.Entries, st.Removed)
	}

	printed = false
	moving := func(st ddbstore.ContactKeyStats) {
		printed = true
		fmt.Printf("\r%d contacts moved to channel-scoped keys", st.Moved)
	}
	ks := ddbstore.ContactKeyStats{}
	if *force {
		ran = true
		ks, err = s.MigrateContactKeys(ctx, moving)
	} else {
		ran, ks, err = s.MigrateContactKeysOnce(ctx, moving)
	}
	if printed {
		fmt.Println()
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "reindex: contact keys:", err)
		os.Exit(1)
	case !ran:
		fmt.Println("contact keys: already done: a previous run completed (-force to run again)")
	default:
		fmt.Printf("contact keys done: %d moved (%d re-read as they changed), %d left where they were (their own key was taken)\n", ks.Moved, ks.Retried, ks.Clashed)
	}

	printed = false
	counting := func(st ddbstore.CountBackfillStats) {
		printed = true
		fmt.Printf("\r%d contacts counted", st.Counted)
	}
	cs := ddbstore.CountBackfillStats{}
	if *force {
		ran = true
		cs, err = s.BackfillContactCounts(ctx, counting)
	} else {
		ran, cs, err = s.BackfillContactCountsOnce(ctx, counting)
	}
	if printed {
		fmt.Println()
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "reindex: contact counts:", err)
		os.Exit(1)
	case !ran:
		fmt.Println("contact counts: already done: a previous run completed (-force to run again)")
	default:
		fmt.Printf("contact counts done: %d contacts counted (%d re-read as they changed)\n", cs.Counted, cs.Retried)
	}

	printed = false
	ms := &ddbstore.Messages{API: s.API, Table: *table, OpsTable: *ops}
	indexing := func(n int) {
		printed = true
		fmt.Printf("\r%d messages indexed for their channel's listing", n)
	}
	n := 0
	if *force {
		ran = true
		n, err = ms.IndexChannelMessages(ctx, indexing)
	} else {
		ran, n, err = ms.IndexChannelMessagesOnce(ctx, indexing)
	}
	if printed {
		fmt.Println()
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "reindex: channel messages:", err)
		os.Exit(1)
	case !ran:
		fmt.Println("channel messages: already done: a previous run completed (-force to run again)")
	default:
		fmt.Printf("channel messages done: %d indexed\n", n)
	}
}
