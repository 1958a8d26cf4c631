// Command reindex rebuilds the contacts' search index on the operations
// table from the contacts of the data table (sharded, with its per-value
// counts), removes the unsharded entries that versions before the shards
// kept there, and the index items that versions before the operations
// table kept in the data table (see ddbstore.Contacts.Reindex). Run it once
// after deploying this version over a deployment that has contacts, with
// the credentials you deploy with:
//
//	go run ./infra/reindex -table <TableName> -ops <OpsTableName>
//
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
)

func main() {
	table := flag.String("table", "", "the data table (stack output TableName)")
	ops := flag.String("ops", "", "the operations table (stack output OpsTableName)")
	force := flag.Bool("force", false, "rebuild even if a run already completed (the operations table keeps a marker)")
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
	s := &ddbstore.Contacts{API: dynamodb.NewFromConfig(cfg), Table: *table, OpsTable: *ops}
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
	if err == nil && !ran {
		fmt.Println("already done: a previous run completed on this operations table (-force to rebuild)")
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reindex:", err)
		os.Exit(1)
	}
	fmt.Printf("done: %d contacts (%d re-read as they changed), %d entries, %d old items removed\n", st.Contacts, st.Retried, st.Entries, st.Removed)
}
