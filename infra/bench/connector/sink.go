// Package connector holds the parts of the connector benchmark
// (infra/bench/cmd/connectorbench) that need no emulator stack: the webhook
// sink that answers 200 at once and notes when each delivery arrived, a
// target that never answers, a recorder of the SDK calls a run makes, and
// the report with its targets.
package connector

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/webhook"
)

// Sink is a webhook receiver: it answers every request 200 at once (after
// reading the body) and keeps, per key, when the first request for it
// arrived. The key is the webhook-id header, or what Key returns for the
// body when Key is set (for example the email a payload carries).
type Sink struct {
	// Key, when set, names a request by its body; "" falls back to the
	// webhook-id header.
	Key func(body []byte) string
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	first    map[string]time.Time
	requests int
	last     time.Time // arrival of the newest first request
	waiters  []waiter
}

type waiter struct {
	n  int
	ch chan struct{}
}

// ServeHTTP implements http.Handler.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	key := ""
	if s.Key != nil {
		key = s.Key(body)
	}
	if key == "" {
		key = r.Header.Get(webhook.HeaderID)
	}
	s.note(key)
	w.WriteHeader(http.StatusOK)
}

func (s *Sink) note(key string) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == nil {
		s.first = map[string]time.Time{}
	}
	s.requests++
	if _, seen := s.first[key]; seen {
		return
	}
	s.first[key] = t
	s.last = t
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if len(s.first) >= w.n {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	s.waiters = kept
}

// Arrived returns when the first request for key arrived.
func (s *Sink) Arrived(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.first[key]
	return t, ok
}

// Counts returns how many distinct keys and how many requests arrived, and
// when the newest distinct key did.
func (s *Sink) Counts() (distinct, requests int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.first), s.requests, s.last
}

// Times returns the first-arrival times of every key, oldest first.
func (s *Sink) Times() []time.Time {
	s.mu.Lock()
	out := make([]time.Time, 0, len(s.first))
	for _, t := range s.first {
		out = append(out, t)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Between counts the distinct keys whose first request arrived in [from, to].
func (s *Sink) Between(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.first {
		if !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// Reached returns a channel closed once n distinct keys have arrived.
func (s *Sink) Reached(n int) <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.first) >= n {
		close(ch)
		return ch
	}
	s.waiters = append(s.waiters, waiter{n: n, ch: ch})
	return ch
}

// JSONField returns a Key function that reads a string field of a JSON
// object body ("" when the body is not such an object).
func JSONField(name string) func([]byte) string {
	return func(body []byte) string {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return ""
		}
		v, _ := m[name].(string)
		return v
	}
}
