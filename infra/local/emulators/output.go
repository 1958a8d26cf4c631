package emulators

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// lockedWriter lets both children write to one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(prefix, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, prefix+": "+line+"\n")
}

// output is a child's stdout and stderr: it forwards whole lines to the log
// and keeps the last few for error messages.
type output struct {
	name string
	log  *lockedWriter

	mu      sync.Mutex
	partial []byte
	last    []string
}

const keepLines = 20

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		o.last = append(o.last, line)
		if len(o.last) > keepLines {
			o.last = o.last[1:]
		}
		o.log.writeLine(o.name, line)
	}
}

// tail returns the last lines written, including an unfinished one.
func (o *output) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append(append([]string(nil), o.last...), string(o.partial))
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
