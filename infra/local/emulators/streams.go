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
// table's newest record. It returns how many went; with DynamoDB in memory
// or external there is nothing to trim. It is safe while dynoxide runs.
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
