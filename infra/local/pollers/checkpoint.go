package pollers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// checkpoints remember, per shard, the last sequence number handled and
// whether the shard is finished. With a path they live in a JSON file, so a
// restart resumes where the last run stopped; checkpoints of another stream
// (the table was recreated) are dropped.
type checkpoints struct {
	path string

	mu   sync.Mutex
	data checkpointFile
}

type checkpointFile struct {
	Stream string                `json:"stream"`
	Shards map[string]checkpoint `json:"shards"`
}

type checkpoint struct {
	Sequence string `json:"sequence,omitempty"` // last record handled
	Done     bool   `json:"done,omitempty"`     // shard closed and read to its end
}

func loadCheckpoints(path, stream string) (*checkpoints, error) {
	c := &checkpoints{path: path}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read checkpoints: %w", err)
		default:
			if err := json.Unmarshal(b, &c.data); err != nil {
				return nil, fmt.Errorf("read checkpoints %s: %w", path, err)
			}
		}
	}
	if c.data.Stream != stream {
		c.data = checkpointFile{Stream: stream}
	}
	if c.data.Shards == nil {
		c.data.Shards = map[string]checkpoint{}
	}
	return c, nil
}

func (c *checkpoints) get(shard string) checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data.Shards[shard]
}

func (c *checkpoints) set(shard string, cp checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data.Shards[shard] = cp
	if c.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(c.data, "", "  ")
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".checkpoints-*")
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoints: %w", err)
	}
	return nil
}
