package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/webhook"
)

// pair is one expected delivery: an update (named by the unique email it
// set) to one connection (by index).
type pair struct {
	conn  int
	email string
}

// targets are the webhook receivers of every connection, on one server:
// /t/<index>. Connection gone answers 410 Gone, connection doomed 400 to
// every attempt (a refusal: its deliveries die at once; a 503 for ever
// would open its circuit breaker, which parks its deliveries without
// spending their attempts until the target recovers or the connection is
// switched off days later); the others fail (503) a
// failRate of their attempts and hang (never answer: the dispatcher's 10 s
// limit ends the attempt) a hangRate, and answer 204 to the rest.
type targets struct {
	gone, doomed       int
	failRate, hangRate float64

	mu           sync.Mutex
	rng          *rand.Rand
	attempts     int
	byConn       map[int]int       // attempts per connection
	okIDs        map[string]int    // webhook-id → 2xx answers
	delivered    map[pair]bool     // pairs answered 2xx
	pairIDs      map[pair][]string // webhook-ids seen per pair (any answer)
	pairAttempts map[pair]int      // attempts per pair
	stopHangs    chan struct{}     // closed to end the hanging answers
}

func newTargets(gone, doomed int, failRate, hangRate float64, seed uint64) *targets {
	return &targets{gone: gone, doomed: doomed, failRate: failRate, hangRate: hangRate, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		byConn: map[int]int{}, okIDs: map[string]int{}, delivered: map[pair]bool{}, pairIDs: map[pair][]string{}, pairAttempts: map[pair]int{},
		stopHangs: make(chan struct{})}
}

func (tg *targets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/t/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var payload map[string]string
	_ = json.Unmarshal(body, &payload)
	p := pair{conn: conn, email: payload["email"]}
	id := r.Header.Get(webhook.HeaderID)

	tg.mu.Lock()
	tg.attempts++
	tg.byConn[conn]++
	tg.pairAttempts[p]++
	if !contains(tg.pairIDs[p], id) {
		tg.pairIDs[p] = append(tg.pairIDs[p], id)
	}
	roll := tg.rng.Float64()
	tg.mu.Unlock()

	switch {
	case conn == tg.gone:
		w.WriteHeader(http.StatusGone)
	case conn == tg.doomed:
		w.WriteHeader(http.StatusBadRequest)
	case roll < tg.hangRate:
		select { // until the dispatcher gives up on the attempt
		case <-r.Context().Done():
		case <-tg.stopHangs:
		case <-time.After(time.Minute):
		}
	case roll < tg.hangRate+tg.failRate:
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		tg.mu.Lock()
		tg.okIDs[id]++
		tg.delivered[p] = true
		tg.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func contains(ids []string, id string) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// isDelivered tells whether p was answered 2xx.
func (tg *targets) isDelivered(p pair) bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.delivered[p]
}

// seen is what the targets saw of p: its webhook-ids and attempts.
func (tg *targets) seen(p pair) ([]string, int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.pairIDs[p]...), tg.pairAttempts[p]
}

// counts sums up what the targets saw: attempts, their number for the gone
// connection, 2xx answers to a webhook-id already answered 2xx, and pairs
// that came under more than one webhook-id.
func (tg *targets) counts() (attempts, goneAttempts, repeated, newIDs int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, n := range tg.okIDs {
		repeated += n - 1
	}
	for _, ids := range tg.pairIDs {
		newIDs += len(ids) - 1
	}
	return tg.attempts, tg.byConn[tg.gone], repeated, newIDs
}
