package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// Call is one SDK operation seen by a Recorder.
type Call struct {
	Op     string // GetItem, Query, UpdateItem, …
	Direct bool   // made by the benchmark itself (ctx from Direct), not by a handler
	Input  any    // the operation's input, as the caller passed it
	Took   time.Duration
	Err    error
}

// Recorder is an SDK middleware that notes every operation of the clients
// built from a config it was added to: its input and how long the whole SDK
// call took (serialising, signing, the HTTP round trip, deserialising). It
// records only between Start and Stop: two clock reads and a mutex per call
// when on, one atomic load when off.
type Recorder struct {
	on    atomic.Bool
	mu    sync.Mutex
	calls []Call
}

type directKey struct{}

// Direct marks calls made with ctx as the benchmark's own.
func Direct(ctx context.Context) context.Context { return context.WithValue(ctx, directKey{}, true) }

// APIOption adds the recorder to a client's middleware stack; append it to
// aws.Config.APIOptions before building clients.
func (r *Recorder) APIOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("apibenchRecorder",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !r.on.Load() {
				return next.HandleInitialize(ctx, in)
			}
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			c := Call{Op: OpName(in.Parameters), Input: in.Parameters, Took: time.Since(start), Err: err}
			c.Direct, _ = ctx.Value(directKey{}).(bool)
			r.mu.Lock()
			if r.on.Load() {
				r.calls = append(r.calls, c)
			}
			r.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// Start forgets earlier calls and starts recording.
func (r *Recorder) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
	r.on.Store(true)
}

// Stop stops recording and returns the calls recorded since Start.
func (r *Recorder) Stop() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on.Store(false)
	out := r.calls
	r.calls = nil
	return out
}

// Len is how many calls have been recorded since Start.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Since returns a copy of the calls recorded after the first from (a Len).
func (r *Recorder) Since(from int) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	if from > len(r.calls) {
		return nil
	}
	return append([]Call(nil), r.calls[from:]...)
}

// OpName is the operation of an SDK input: *dynamodb.GetItemInput → GetItem.
func OpName(input any) string {
	s := fmt.Sprintf("%T", input)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSuffix(s, "Input")
}

// CountOps counts calls by operation (by label when label is not nil),
// keeping those that keep says to.
func CountOps(calls []Call, keep func(Call) bool, label func(Call) string) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if keep != nil && !keep(c) {
			continue
		}
		l := c.Op
		if label != nil {
			l = label(c)
		}
		out[l]++
	}
	return out
}

// Durations lists how long the kept calls took.
func Durations(calls []Call, keep func(Call) bool) []time.Duration {
	var out []time.Duration
	for _, c := range calls {
		if keep == nil || keep(c) {
			out = append(out, c.Took)
		}
	}
	return out
}

// TokensNeeded is how many tokens requests need when each serves at most
// perToken of them.
func TokensNeeded(requests, perToken int) int {
	if requests <= 0 || perToken <= 0 {
		return 0
	}
	return (requests + perToken - 1) / perToken
}

// FormatCounts writes counts as "a 1, b 2" in key order, each divided by
// per (calls per request) when per > 0.
func FormatCounts(counts map[string]int, per int) string {
	var parts []string
	for _, k := range sortedKeys(counts) {
		if per > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(counts[k])/float64(per)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
