package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// noisyAPI is a tenant of the noisy neighbour as a client of the API: a
// tenant with a channel, a connection to its endpoint made with POST
// /v1/connections, contacts without an email, and channel tokens, each
// used for at most perToken calls (the API allows 100 a minute per token).
// Each of its events is a PUT /v1/contact/{id} that sets a new email,
// which the table's stream hands to the trigger router (polled as make run
// polls it), which queues the delivery for the dispatcher. Tenants A and B
// take the same road.
type noisyAPI struct {
	tenant   string
	connIDs  []string // its connections, made through the API
	api      *apiClient
	tokens   []string
	perToken int
	used     atomic.Int64 // calls made, over every token
	ids      []string
	seq      atomic.Int64
}

// bStages notes when each of B's deliveries (by its email) was queued by
// the trigger router and first handed to the dispatcher.
type bStages struct {
	tenant     string // B's tenant ID, as its deliveries carry it
	mu         sync.Mutex
	queued     map[string]time.Time
	dispatched map[string]time.Time
	// handedBack counts B's messages the dispatcher reported failed
	// (parked, or kept for a fault of its own): none should be.
	handedBack atomic.Int64
}

func newBStages(tenant string) *bStages {
	return &bStages{tenant: tenant, queued: map[string]time.Time{}, dispatched: map[string]time.Time{}}
}

func (b *bStages) note(m map[string]time.Time, bodies []string, at time.Time) {
	var es []string
	mark := `"tenant_id":"` + b.tenant + `"`
	for _, body := range bodies {
		if !strings.Contains(body, mark) {
			continue // A's: not parsed
		}
		if e := deliveryEmail(body); e != "" {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range es {
		if _, ok := m[e]; !ok {
			m[e] = at
		}
	}
}

// sent is the stack's onSent hook: SendMessageBatch bodies.
func (b *bStages) sent(bodies []string, at time.Time) { b.note(b.queued, bodies, at) }

// handler wraps the dispatcher's Handle to note B's deliveries.
func (b *bStages) handler(h lambdaapp.QueueHandler) lambdaapp.QueueHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		bodies := make([]string, len(ev.Records))
		for i, r := range ev.Records {
			bodies[i] = r.Body
		}
		b.note(b.dispatched, bodies, time.Now())
		resp, err := h(ctx, ev)
		mark := `"tenant_id":"` + b.tenant + `"`
		for _, f := range resp.BatchItemFailures {
			for i, r := range ev.Records {
				if r.MessageId == f.ItemIdentifier && strings.Contains(bodies[i], mark) {
					b.handedBack.Add(1)
				}
			}
		}
		return resp, err
	}
}

// noisyCall is one of B's contact updates.
type noisyCall struct {
	email      string
	start, end time.Time
	status     int
	err        error
}

// startNoisyAPI starts the local gateway and the trigger router's stream
// poller on s (until the returned stop, or ctx's end), for the tenants
// newTenant sets up.
func startNoisyAPI(ctx context.Context, s *stack) (*apiClient, func(), error) {
	gw, err := gateway.ForRoutes(s.d, registry.All(), "adm_connectorbench_unused", authCacheTTL)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tmp, err := os.MkdirTemp("", "connectorbench-noisy-")
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() {
		cancel()
		wg.Wait()
		srv.Close()
		os.RemoveAll(tmp)
	}
	api := &apiClient{&bench.API{Base: "http://" + ln.Addr().String(), HTTP: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}}}
	for _, f := range routes.EventFunctions {
		if f.Source != "stream" || f.Function != "trigger-router" {
			continue
		}
		p := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
			BatchSize: f.BatchSize, Handler: registry.Streams[f.Function](s.d),
			Checkpoints: filepath.Join(tmp, "stream-checkpoints.json"), Filter: pollers.RouteFilter(f.StreamFilters())}
		wg.Go(func() { _ = p.Run(pctx) })
	}
	return api, stop, nil
}

// newTenant sets up a tenant named name on s for calls API calls in all,
// with conns connections, the i-th to sinkURL/i (each contact update is a
// delivery to each of them).
func newTenant(ctx context.Context, s *stack, api *apiClient, o options, name string, calls, conns int, sinkURL string) (*noisyAPI, error) {
	n := &noisyAPI{api: api, perToken: o.perToken - 1}
	ten := &tenancy.Service{Store: s.d.Tenancy(), Now: time.Now}
	sc, err := messengerTenant(ctx, ten, name, tenancy.ChannelInput{})
	if err != nil {
		return nil, err
	}
	n.tenant = sc.TenantID
	// One token for the setup, the others for the load; each is primed
	// with GET /v1/me (as for a client that called in the last 300 s).
	nTokens := (calls+n.perToken-1)/n.perToken + 1
	n.tokens = make([]string, nTokens)
	if err := bench.Parallel(ctx, 4, nTokens, func(ctx context.Context, i int) error {
		tk, err := ten.CreateToken(ctx, sc.TenantID, sc.ChannelID, fmt.Sprintf("noisy %d", i))
		if err != nil {
			return err
		}
		n.tokens[i] = tk.Secret
		return nil
	}); err != nil {
		return nil, err
	}
	setup := n.tokens[0]
	n.tokens = n.tokens[1:]
	for i := range conns {
		st, body, err := n.api.Do(ctx, http.MethodPost, "/v1/connections", setup,
			map[string]any{"name": fmt.Sprintf("%s's endpoint %d", name, i), "url": fmt.Sprintf("%s/%d", sinkURL, i), "triggers": []string{string(connections.TriggerEmail)}})
		if err != nil || st != http.StatusCreated {
			return nil, fmt.Errorf("%s: POST /v1/connections: %d %s %v", name, st, body, err)
		}
		var created struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &created); err != nil || created.Data.ID == "" {
			return nil, fmt.Errorf("%s: POST /v1/connections answered %s (%v)", name, body, err)
		}
		n.connIDs = append(n.connIDs, created.Data.ID)
	}
	svc := &contacts.Service{Store: s.contactsStore(), Now: time.Now}
	n.ids = make([]string, o.noisyContacts)
	if err := bench.Parallel(ctx, 8, len(n.ids), func(ctx context.Context, i int) error {
		c, err := svc.Create(ctx, sc, []contacts.Input{{Name: "firstName", Value: json.RawMessage(fmt.Sprintf(`"N%d"`, i))}}, false)
		if err != nil {
			return fmt.Errorf("%s: seed contact: %w", name, err)
		}
		n.ids[i] = c.ID
		return nil
	}); err != nil {
		return nil, err
	}
	if err := bench.Parallel(ctx, 4, len(n.tokens), func(ctx context.Context, i int) error {
		st, body, err := n.api.Do(ctx, http.MethodGet, "/v1/me", n.tokens[i], nil)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("%s: GET /v1/me: %d %s", name, st, body)
		}
		return err
	}); err != nil {
		return nil, err
	}
	return n, nil
}

// token is the token of the next call: each serves perToken calls.
func (n *noisyAPI) token() string {
	k := int(n.used.Add(1)-1) / n.perToken
	return n.tokens[min(k, len(n.tokens)-1)]
}

// run makes rate updates a second for d, in an open loop (each on its own
// goroutine: a slow answer does not delay the next), and returns them
// once every one has been answered.
func (n *noisyAPI) run(ctx context.Context, label string, rate int, d time.Duration) []noisyCall {
	total := int(float64(rate) * d.Seconds())
	calls := make([]noisyCall, total)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range total {
		if w := time.Until(t0.Add(time.Duration(i) * interval)); w > 0 {
			time.Sleep(w)
		}
		if ctx.Err() != nil {
			calls = calls[:i]
			break
		}
		k := int(n.seq.Add(1))
		c := &calls[i]
		c.email = fmt.Sprintf("%s%06d@noisy.example", label, k)
		tok, id := n.token(), n.ids[k%len(n.ids)]
		wg.Go(func() {
			c.start = time.Now()
			c.status, _, c.err = n.api.updateEmail(ctx, id, tok, c.email)
			c.end = time.Now()
		})
	}
	wg.Wait()
	return calls
}

// noisyPhase is what one phase measured of tenant B: from the start of its
// contact update (the API call) to the delivery's first arrival at B's
// endpoint.
type noisyPhase struct {
	Updates   int               `json:"updates"`
	Accepted  int               `json:"accepted"`
	Arrived   int               `json:"arrived"`
	Non2xx    map[int]int       `json:"non_2xx,omitempty"`
	APIErrors int               `json:"api_errors"`
	Latency   connector.Latency `json:"update_to_attempt"`
	API       connector.Latency `json:"api_call"`
	// The stages: API answer → queued by the trigger router, queued →
	// first handed to the dispatcher, handed → attempt at the sink.
	ToQueue      connector.Latency `json:"answer_to_queued"`
	ToDispatcher connector.Latency `json:"queued_to_dispatcher"`
	ToSink       connector.Latency `json:"dispatcher_to_sink"`
}

// settle waits (up to wait) for the deliveries of calls' accepted updates
// at sink and summarises them.
func settle(ctx context.Context, sink *connector.Sink, st *bStages, calls []noisyCall, wait time.Duration) noisyPhase {
	p := noisyPhase{Updates: len(calls), Non2xx: map[int]int{}}
	for _, c := range calls {
		switch {
		case c.err != nil:
			p.APIErrors++
		case c.status != http.StatusOK:
			p.Non2xx[c.status]++
		default:
			p.Accepted++
		}
	}
	deadline := time.Now().Add(wait)
	for {
		arrived := 0
		for _, c := range calls {
			if _, ok := sink.Arrived(c.email); ok {
				arrived++
			}
		}
		p.Arrived = arrived
		if arrived >= p.Accepted || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var lat, api, toQ, toD, toS []time.Duration
	if st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
	}
	for _, c := range calls {
		if c.err != nil || c.status != http.StatusOK {
			continue
		}
		api = append(api, c.end.Sub(c.start))
		at, ok := sink.Arrived(c.email)
		if ok {
			lat = append(lat, at.Sub(c.start))
		}
		if st == nil {
			continue
		}
		q, qok := st.queued[c.email]
		d, dok := st.dispatched[c.email]
		if qok {
			toQ = append(toQ, q.Sub(c.end))
		}
		if qok && dok {
			toD = append(toD, d.Sub(q))
		}
		if dok && ok {
			toS = append(toS, at.Sub(d))
		}
	}
	p.Latency, p.API = connector.Summarise(lat), connector.Summarise(api)
	p.ToQueue, p.ToDispatcher, p.ToSink = connector.Summarise(toQ), connector.Summarise(toD), connector.Summarise(toS)
	if len(p.Non2xx) == 0 {
		p.Non2xx = nil
	}
	return p
}

// minNoisySamples is the fewest measured updates per phase for a p95 the
// ratio can rest on (the 95th percentile of 200 is the 10th slowest).
const minNoisySamples = 200

// p95Ratio is B's p95 with A ÷ the lowest p95 of B alone, and why it
// cannot be judged ("" when it can).
func p95Ratio(alone []noisyPhase, withA noisyPhase) (float64, string) {
	var why string
	base := 0.0
	for _, p := range append([]noisyPhase{withA}, alone...) {
		switch {
		case why != "":
		case p.Accepted < minNoisySamples:
			why = fmt.Sprintf("too few samples: %d in a phase (need %d; raise -noisy-duration or -noisy-b-rate)", p.Accepted, minNoisySamples)
		case p.Arrived < p.Accepted:
			why = fmt.Sprintf("B deliveries missing: %d of %d in a phase", p.Accepted-p.Arrived, p.Accepted)
		case p.Updates != p.Accepted:
			why = fmt.Sprintf("B updates refused: %d API errors, non-2xx %v in a phase", p.APIErrors, p.Non2xx)
		}
	}
	for _, p := range alone {
		if p.Latency.P95MS > 0 && (base == 0 || p.Latency.P95MS < base) {
			base = p.Latency.P95MS
		}
	}
	if base == 0 {
		return 0, why
	}
	return withA.Latency.P95MS / base, why
}

// phaseLine describes a phase for the report's notes.
func phaseLine(name string, p noisyPhase) string {
	codes := make([]int, 0, len(p.Non2xx))
	for c := range p.Non2xx {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	return fmt.Sprintf("B %s: %d updates, %d accepted, %d delivered; update → attempt %s; non-2xx %v, API errors %d\n"+
		"      API call %s\n      API answer → queued by the trigger router %s\n      queued → first handed to the dispatcher %s\n      handed to the dispatcher → attempt at B's endpoint %s",
		name, p.Updates, p.Accepted, p.Arrived, p.Latency, codes, p.APIErrors, p.API, p.ToQueue, p.ToDispatcher, p.ToSink)
}
