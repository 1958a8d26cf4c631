package emulators

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// StreamRetention is how long DynamoDB keeps a stream record; TrimStreams
// removes older ones from dynoxide's file.
const StreamRetention = 24 * time.Hour

// trimScript deletes, from dynoxide's SQLite file (argv[1]), the stream
// records created before argv[2] (unix seconds), in batches so that
// dynoxide's own writes wait at most one batch, and prints how many went.
// The newest record of each table always stays: dynoxide numbers a table's
// next record one past the highest number it holds, so a stream trimmed
// empty would number from 1 again, behind every reader's checkpoint and
// under webhook IDs already used.
const trimScript = `
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.exec("PRAGMA busy_timeout = 5000");
let total = 0;
if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_stream_records'").get()) {
  const keep = JSON.stringify(db.prepare("SELECT MAX(id) AS id FROM _stream_records GROUP BY table_name").all().map((r) => r.id));
  const del = db.prepare("DELETE FROM _stream_records WHERE id IN (SELECT id FROM _stream_records WHERE created_at < ? AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1000)");
  for (;;) {
    const n = Number(del.run(Number(process.argv[2]), keep).changes);
    total += n;
    if (n < 1000) break;
  }
}
db.close();
console.log(total);
`

// TrimStreams deletes the stream records older than retention from the
// file of the dynoxide this stack runs (dynoxide 1.2.1 keeps them all, and
// reads them all on every write to a table with a stream), keeping each
// table's newest record. It returns how many went; with an external
// DynamoDB there is nothing to trim. It is safe while dynoxide runs.
func (s *Stack) TrimStreams(ctx context.Context, retention time.Duration) (int, error) {
	if s.dynamoDB == "" {
		return 0, nil
	}
	return TrimStreams(ctx, s.node, s.dynamoDB, time.Now().Add(-retention))
}

// TrimStreams deletes from dynoxide's SQLite file db the stream records
// created before before, except each table's newest, with the Node.js node
// (22.5 or later: node:sqlite).
func TrimStreams(ctx context.Context, node, db string, before time.Time) (int, error) {
	if _, err := os.Stat(db); err != nil {
		return 0, fmt.Errorf("trim streams: %w", err)
	}
	args := append(nodeFlags(node, ""), "--no-warnings", "-e", trimScript, db, strconv.FormatInt(before.Unix(), 10))
	cmd := exec.CommandContext(ctx, node, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("trim streams in %s: %w: %s", db, err, strings.TrimSpace(stderr.String()))
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("trim streams in %s: answered %q", db, out)
	}
	return n, nil
}

// StreamQueries are the statements dynoxide 1.2.1 runs on its stream
// records, as its binary holds them: the next sequence number, on every
// write to a table with a stream; a shard's records after a position
// (GetRecords); a shard's range (DescribeStream). Without an index each
// reads every record of every table, so a streamed write costs more the
// more records the file holds (at 15,000 records, 261 PutItems/s against
// 2,527/s on a table without a stream).
var StreamQueries = []string{
	"SELECT COALESCE(MAX(CAST(sequence_number AS INTEGER)), 0) + 1 FROM _stream_records WHERE table_name = ?1",
	`SELECT event_name, keys_json, new_image, old_image, sequence_number, created_at, user_identity
             FROM _stream_records
             WHERE table_name = ?1 AND shard_id = ?2 AND CAST(sequence_number AS INTEGER) > ?3
             ORDER BY CAST(sequence_number AS INTEGER) ASC
             LIMIT ?4`,
	"SELECT MIN(sequence_number), MAX(sequence_number) FROM _stream_records WHERE table_name = ?1 AND shard_id = ?2",
}

// indexScript adds to dynoxide's SQLite file (argv[1]) the indexes that
// serve StreamQueries. dynoxide's statements pick them up on their next
// run (SQLite re-prepares a statement when the schema changes).
const indexScript = `
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.exec("PRAGMA busy_timeout = 5000");
if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_stream_records'").get()) {
  db.exec("CREATE INDEX IF NOT EXISTS _stream_records_next ON _stream_records (table_name, CAST(sequence_number AS INTEGER))");
  db.exec("CREATE INDEX IF NOT EXISTS _stream_records_after ON _stream_records (table_name, shard_id, CAST(sequence_number AS INTEGER))");
  db.exec("CREATE INDEX IF NOT EXISTS _stream_records_range ON _stream_records (table_name, shard_id, sequence_number)");
}
db.close();
`

// IndexStreams adds to dynoxide's SQLite file db the indexes its stream
// statements (StreamQueries) lack, with the Node.js node (22.5 or later:
// node:sqlite). It is idempotent and safe while dynoxide runs; Start runs it
// on every file it gives dynoxide.
func IndexStreams(ctx context.Context, node, db string) error {
	args := append(nodeFlags(node, ""), "--no-warnings", "-e", indexScript, db)
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("index the stream records in %s: %w: %s", db, err, strings.TrimSpace(string(out)))
	}
	return nil
}
