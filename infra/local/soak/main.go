// Command soak is `make soak`: the local stack under a long load while its
// emulators crash. It runs the system as `make run` wires it (emulators with
// their data on disk, the local gateway, the stream and queue pollers),
// sends contact updates across many connections whose targets fail, hang
// or answer 410 (and one whose target refuses every attempt), kills the SQS emulator (SIGKILL) and restarts it on the
// same port and data mid-run, then the DynamoDB emulator, and waits for
// every delivery to arrive or die. It prints events accepted, deliveries
// attempted, succeeded, dead, lost and repeated, and exits 1 if any
// accepted update lost a delivery.
//
// Lost is an expected delivery (an accepted update × each enabled
// connection of its channel) that never reached its target and is not kept
// dead. Repeated (allowed: receivers drop them by webhook-id) counts 2xx
// answers to a webhook-id already answered 2xx. The retry schedule is
// compressed (-schedule) so that a delivery's eight attempts fit in the run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// config is one soak run.
type config struct {
	updates     int // contact updates (each sets a new email: the email trigger)
	connections int // connections, one per channel
	contacts    int // contacts per channel
	concurrency int // updates in flight at once
	failRate    float64
	hangRate    float64
	// killSQS and killDynamo are the shares of the updates accepted when
	// the SQS and then the DynamoDB emulator is killed; down is how long
	// each stays down.
	killSQS, killDynamo float64
	down                time.Duration
	// settle is how long to wait without progress (no delivery arriving
	// or dying) for the rest to arrive or die, once the deliveries queue
	// is empty (while it holds messages, up to maxHidden longer).
	settle   time.Duration
	schedule []time.Duration // the retry schedule, 7 steps
	seed     uint64
	out      io.Writer // the report and progress
	log      io.Writer // the functions' and emulators' logs
}

func defaults() config {
	return config{updates: 10000, connections: 100, contacts: 10, concurrency: 16, failRate: 0.30, hangRate: 0.05,
		killSQS: 0.3, killDynamo: 0.6, down: 3 * time.Second, settle: 2 * time.Minute,
		schedule: []time.Duration{2 * time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 4 * time.Second, 4 * time.Second, 5 * time.Second},
		seed:     1}
}

func main() {
	c := defaults()
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	fs.IntVar(&c.updates, "updates", c.updates, "contact updates")
	fs.IntVar(&c.connections, "connections", c.connections, "connections (one per channel; the first answers 410, the second 400 to every attempt)")
	fs.IntVar(&c.contacts, "contacts", c.contacts, "contacts per channel")
	fs.IntVar(&c.concurrency, "concurrency", c.concurrency, "updates in flight at once")
	fs.Float64Var(&c.failRate, "fail", c.failRate, "share of attempts the targets answer 503")
	fs.Float64Var(&c.hangRate, "hang", c.hangRate, "share of attempts the targets never answer")
	fs.DurationVar(&c.down, "down", c.down, "how long each emulator stays down")
	fs.DurationVar(&c.settle, "settle", c.settle, "longest wait without a delivery arriving or dying, after the last update, once the deliveries queue is empty")
	sched := fs.String("schedule", durations(c.schedule), "the retry schedule (7 comma-separated durations)")
	logPath := fs.String("log", ".local/soak.log", "where the functions' and emulators' logs go")
	_ = fs.Parse(os.Args[1:])
	var err error
	if c.schedule, err = parseSchedule(*sched); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if err := os.MkdirAll(filepath.Dir(*logPath), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	logFile, err := os.Create(*logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	defer logFile.Close()
	c.out, c.log = os.Stdout, logFile
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		fmt.Println("soak: FAIL (the run did not finish: " + firstLine(err.Error()) + ")")
		os.Exit(1)
	}
	if len(r.failures(c)) > 0 {
		os.Exit(1)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}

func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 2*time.Second {
			// Under 2 s the ±20 % jitter can round a wait down to 0 s.
			return nil, fmt.Errorf("-schedule: %q is not a duration of 2 s or more", f)
		}
		out = append(out, d)
	}
	if len(out) != len(connections.Schedule) {
		return nil, fmt.Errorf("-schedule: %d steps, want %d", len(out), len(connections.Schedule))
	}
	return out, nil
}

// report is what a run counted.
type report struct {
	Accepted   int // updates answered 2xx
	APIErrors  int // other answers (an emulator down, 429), each retried
	Expected   int // deliveries the accepted updates call for
	Attempted  int // requests the targets received
	Succeeded  int // expected deliveries answered 2xx
	Dead       int // expected deliveries kept dead
	Lost       int // expected deliveries neither succeeded nor dead
	Repeated   int // 2xx answers to a webhook-id already answered 2xx
	NewIDs     int // deliveries that came under a second webhook-id
	GoneTried  int // attempts at the connection answering 410
	GoneDead   int // its deliveries kept dead
	Restarts   []string
	Duration   time.Duration
	SettleTime time.Duration // from the last update until all arrived or died
}

const (
	tableName, opsTableName = "soak", "soak-ops"
	adminKey                = "soak-admin-key-0123456789"
	goneConn                = 0
	doomedConn              = 1 // its target refuses every attempt: its deliveries die
	// visibility replaces the queue's 180 s, so that a message whose
	// visibility change or deletion an SQS crash swallowed comes back
	// within the run (a hanging attempt takes 10 s).
	visibility = 30 * time.Second
)

// run sets the stack up, sends the updates while killing and restarting
// the emulators, waits for the deliveries and reports.
func run(ctx context.Context, c config) (report, error) {
	var r report
	start := time.Now()
	saved := connections.Schedule
	copy(connections.Schedule[:], c.schedule) // parseSchedule checked the length
	defer func() { connections.Schedule = saved }()
	// The circuit breakers' probe waits, scaled down like the schedule: a
	// connection its target's failures paused is probed every few seconds.
	savedFirst, savedMax := connections.ProbeFirst, connections.ProbeMax
	connections.ProbeFirst, connections.ProbeMax = c.schedule[0], 4*c.schedule[len(c.schedule)-1]
	defer func() { connections.ProbeFirst, connections.ProbeMax = savedFirst, savedMax }()
	if c.log == nil {
		c.log = io.Discard
	}
	prevLog := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer slog.SetDefault(prevLog)
	// The dispatcher writes a metric line per attempt to os.Stdout (where
	// Lambda's log capture reads it): to the log with the rest.
	restore, err := stdoutTo(c.log)
	if err != nil {
		return r, err
	}
	defer restore()

	dataDir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dataDir)
	stack, err := emulators.Start(ctx, emulators.Options{DataDir: dataDir, Log: c.log})
	if err != nil {
		return r, err
	}
	defer stack.Stop()

	vars := map[string]string{
		appenv.TableName: tableName, appenv.OpsTableName: opsTableName, appenv.Stage: "dev", appenv.AllowLoopbackTargets: "true",
	}
	getenv := func(k string) string { return vars[k] }
	cfg := stack.AWSConfig()
	d := wiring.FromConfig(cfg, getenv)
	if err := provision.EnsureTables(ctx, d.DDB, tableName, opsTableName); err != nil {
		return r, err
	}
	sqsClient := sqs.NewFromConfig(cfg)
	queues, err := provision.EnsureQueues(ctx, sqsClient, "")
	if err != nil {
		return r, err
	}
	if _, err := sqsClient.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(queues.DeliveriesURL),
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))}}); err != nil {
		return r, err
	}
	vars[appenv.QueueURL], vars[appenv.DLQURL] = queues.DeliveriesURL, queues.DLQURL
	d = wiring.FromConfig(cfg, getenv)

	gw, err := gateway.ForRoutes(d, registry.All(), adminKey, 300*time.Second)
	if err != nil {
		return r, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	api := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = api.Serve(ln) }()
	defer api.Close()
	apiURL := "http://" + ln.Addr().String()

	pctx, stopPollers := context.WithCancel(context.Background())
	var pwg sync.WaitGroup
	defer func() {
		stopPollers()
		pwg.Wait()
	}()
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			p := &pollers.StreamPoller{DDB: d.DDB, Streams: dynamodbstreams.NewFromConfig(cfg), Table: tableName, BatchSize: f.BatchSize,
				Handler: registry.Streams[f.Function](d), Checkpoints: filepath.Join(dataDir, "stream-checkpoints.json"),
				PollInterval: 100 * time.Millisecond, Filter: pollers.RouteFilter(f.StreamFilters())}
			pwg.Go(func() { _ = p.Run(pctx) })
		case "queue":
			p := &pollers.SQSPoller{Client: sqsClient, QueueURL: queues.DeliveriesURL, QueueARN: queues.DeliveriesARN,
				BatchSize: f.BatchSize, Concurrency: 16, WaitTime: time.Second, Handler: registry.Queues[f.Function](d)}
			pwg.Go(func() { _ = p.Run(pctx) })
		}
	}

	tg := newTargets(goneConn, doomedConn, c.failRate, c.hangRate, c.seed)
	targetSrv := httptest.NewServer(tg)
	defer targetSrv.Close()
	defer close(tg.stopHangs)

	cl := &client{base: apiURL, http: &http.Client{Timeout: 30 * time.Second}}
	su, err := setUp(ctx, cl, c, targetSrv.URL)
	if err != nil {
		return r, fmt.Errorf("set up: %w", err)
	}
	fmt.Fprintf(c.out, "soak: %d updates, %d connections (1 answers 410, 1 refuses every attempt with 400; the others fail %.0f %% and hang %.0f %% of attempts), %d contacts per channel\n",
		c.updates, c.connections, c.failRate*100, c.hangRate*100, c.contacts)

	// The updates, with the emulators killed and restarted on the way.
	var accepted, apiErrors atomic.Int64
	var mu sync.Mutex
	var expected []pair
	crashes := []struct {
		name string
		at   int
	}{{"sqs", int(c.killSQS * float64(c.updates))}, {"dynamodb", int(c.killDynamo * float64(c.updates))}}
	crashDone := make(chan error, 1)
	go func() {
		for _, cr := range crashes {
			for int(accepted.Load()) < cr.at {
				if ctx.Err() != nil {
					crashDone <- ctx.Err()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := stack.Kill(cr.name); err != nil {
				crashDone <- err
				return
			}
			t0 := time.Now()
			time.Sleep(c.down)
			if err := stack.Restart(ctx, cr.name); err != nil {
				crashDone <- err
				return
			}
			mu.Lock()
			r.Restarts = append(r.Restarts, fmt.Sprintf("%s killed after %d updates, back after %.1f s", cr.name, cr.at, time.Since(t0).Seconds()))
			mu.Unlock()
			fmt.Fprintf(c.out, "soak: %s killed after %d accepted updates, restarted %.1f s later\n", cr.name, cr.at, time.Since(t0).Seconds())
		}
		crashDone <- nil
	}()

	jobs := make([][]int, c.concurrency) // per worker, the updates in order
	for k := range c.updates {
		ch, ct := k%c.connections, (k/c.connections)%c.contacts
		w := (ch*c.contacts + ct) % c.concurrency
		jobs[w] = append(jobs[w], k)
	}
	var wg sync.WaitGroup
	var sendErr atomic.Value
	for w := range c.concurrency {
		wg.Go(func() {
			for _, k := range jobs[w] {
				ch, ct := k%c.connections, (k/c.connections)%c.contacts
				email := fmt.Sprintf("soak%d@example.com", k)
				token := su.tokens[ch][ct%len(su.tokens[ch])]
				body := map[string]any{"psid": psid(ch, ct), "field": "email", "value": email}
				for {
					if ctx.Err() != nil {
						return
					}
					status, retryAfter, err := cl.do(ctx, "POST", "/v1/events", token, body, nil)
					if err == nil {
						break
					}
					apiErrors.Add(1)
					if status != 0 && status != http.StatusTooManyRequests && status < 500 {
						// A refusal of the update itself: a fault of the soak.
						sendErr.Store(fmt.Errorf("update %d: %w", k, err))
						return
					}
					time.Sleep(max(retryAfter, 200*time.Millisecond))
				}
				accepted.Add(1)
				if ch != goneConn {
					mu.Lock()
					expected = append(expected, pair{conn: ch, email: email})
					mu.Unlock()
				}
				if n := accepted.Load(); n%1000 == 0 {
					fmt.Fprintf(c.out, "soak: %d updates accepted (%.0f s)\n", n, time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err, _ := sendErr.Load().(error); err != nil {
		return r, err
	}
	if err := <-crashDone; err != nil {
		return r, err
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	lastUpdate := time.Now()
	fmt.Fprintf(c.out, "soak: all %d updates accepted in %.0f s; waiting for the deliveries\n", accepted.Load(), time.Since(start).Seconds())

	// Wait until every expected delivery arrived or died.
	dead := map[pair]bool{}
	var goneDead int
	pending := func() int {
		n := 0
		for _, p := range expected {
			if !tg.isDelivered(p) && !dead[p] {
				n++
			}
		}
		return n
	}
	lastLeft, progress, told := -1, time.Now(), time.Now()
	for {
		if dd, gd, err := deadDeliveries(ctx, d.Connections(), su); err != nil {
			if ctx.Err() == nil {
				fmt.Fprintln(c.out, "soak: list dead deliveries:", err)
			}
		} else {
			dead, goneDead = dd, gd
		}
		left := pending()
		if left != lastLeft {
			lastLeft, progress = left, time.Now()
		}
		// Messages still queued (visible, in flight or delayed) will be
		// handled: hidden after a fault of the dispatcher's own, one can
		// stay away up to dispatch.FaultBackoff's cap.
		queued := 0
		if d, err := queueDepth(ctx, sqsClient, queues.DeliveriesURL); err == nil {
			queued = d.visible + d.inFlight + d.delayed
		} else {
			queued = -1
		}
		if left > 0 && time.Since(told) >= 15*time.Second {
			told = time.Now()
			fmt.Fprintf(c.out, "soak: %d deliveries neither succeeded nor dead yet, %d messages queued (%.0f s after the last update)\n",
				left, queued, time.Since(lastUpdate).Seconds())
		}
		idle := time.Since(progress)
		if left == 0 || (idle > c.settle && queued == 0) || idle > c.settle+maxHidden || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	r.SettleTime = time.Since(lastUpdate)
	r.Accepted, r.APIErrors, r.Expected = int(accepted.Load()), int(apiErrors.Load()), len(expected)
	for _, p := range expected {
		switch {
		case tg.isDelivered(p):
			r.Succeeded++
		case dead[p]:
			r.Dead++
		default:
			r.Lost++
		}
	}
	r.Attempted, r.GoneTried, r.Repeated, r.NewIDs = tg.counts()
	r.GoneDead = goneDead
	r.Duration = time.Since(start)
	r.print(c.out)
	if r.Lost > 0 {
		// What became of them, to trace them in the log.
		shown := 0
		for _, p := range expected {
			if tg.isDelivered(p) || dead[p] {
				continue
			}
			if shown++; shown > 10 {
				break
			}
			ids, n := tg.seen(p)
			fmt.Fprintf(c.out, "  lost: connection %d (%s), update %s: %d attempts at the target, webhook-ids %v\n", p.conn, su.connByIndex(p.conn), p.email, n, ids)
		}
		for _, q := range []struct{ name, url string }{{"deliveries", queues.DeliveriesURL}, {"DLQ", queues.DLQURL}} {
			d, err := queueDepth(context.WithoutCancel(ctx), sqsClient, q.url)
			if err != nil {
				fmt.Fprintf(c.out, "  %s queue: %v\n", q.name, err)
				continue
			}
			fmt.Fprintf(c.out, "  %s queue: %d visible, %d in flight, %d delayed\n", q.name, d.visible, d.inFlight, d.delayed)
		}
	}
	fmt.Fprintln(c.out, r.verdict(c))
	return r, nil
}

// verdict is the run's last line: PASS, or FAIL with its reasons.
func (r report) verdict(c config) string {
	if f := r.failures(c); len(f) > 0 {
		return "soak: FAIL (" + strings.Join(f, "; ") + ")"
	}
	return "soak: PASS (no delivery lost, none under a new webhook-id)"
}

// failures are the reasons the run fails: a delivery lost or sent under a
// second webhook-id, an update not accepted, an emulator not restarted.
func (r report) failures(c config) []string {
	var f []string
	if r.Lost > 0 {
		f = append(f, fmt.Sprintf("%d deliveries lost", r.Lost))
	}
	if r.NewIDs > 0 {
		f = append(f, fmt.Sprintf("%d deliveries under a new webhook-id", r.NewIDs))
	}
	if r.Accepted != c.updates {
		f = append(f, fmt.Sprintf("%d of %d updates accepted", r.Accepted, c.updates))
	}
	if len(r.Restarts) != 2 {
		f = append(f, fmt.Sprintf("%d of 2 emulator restarts", len(r.Restarts)))
	}
	return f
}

func (r report) print(w io.Writer) {
	fmt.Fprintf(w, `
  soak report
  ───────────
  events accepted        %d   (%d other answers while an emulator was down or a token at its limit, each retried)
  deliveries expected    %d   (accepted updates × their channel's enabled connection)
  deliveries attempted   %d   (requests the targets received, retries included)
  succeeded              %d
  dead                   %d   (kept as dead deliveries: after 8 attempts, or refused)
  lost                   %d   (must be 0)
  repeated               %d   (2xx answers to a webhook-id already answered: allowed, receivers drop them)
  under a new webhook-id %d   (must be 0)
  410 connection         %d attempts, %d deliveries kept dead, then switched off
  restarts               %s
  duration               %.0f s (deliveries settled %.0f s after the last update)
`, r.Accepted, r.APIErrors, r.Expected, r.Attempted, r.Succeeded, r.Dead, r.Lost, r.Repeated, r.NewIDs,
		r.GoneTried, r.GoneDead, strings.Join(r.Restarts, "; "), r.Duration.Seconds(), r.SettleTime.Seconds())
}

func psid(channel, contact int) string { return fmt.Sprintf("9%04d%06d", channel, contact) }

// setup is the tenant the run made: its ID and, per channel, its tokens
// and its connection's ID.
type setup struct {
	tenantID string
	tokens   [][]string
	connIDs  map[string]int // connection ID → index
}

// setUp makes one tenant with a channel per connection, enough tokens per
// channel to keep each under its 100 calls a minute, and the connections.
func setUp(ctx context.Context, cl *client, c config, targetURL string) (setup, error) {
	s := setup{tokens: make([][]string, c.connections), connIDs: map[string]int{}}
	var tenant struct {
		Data struct {
			Tenant struct {
				ID string `json:"id"`
			} `json:"tenant"`
		} `json:"data"`
	}
	if err := cl.must(ctx, "POST", "/admin/tenants", adminKey, map[string]any{"name": "Soak"}, &tenant); err != nil {
		return s, err
	}
	s.tenantID = tenant.Data.Tenant.ID
	perChannel := (c.updates + c.connections - 1) / c.connections
	tokens := max(1, (perChannel+79)/80)
	for ch := range c.connections {
		var created struct {
			Data struct {
				ID    string `json:"id"`
				Token string `json:"token"`
			} `json:"data"`
		}
		base := "/admin/tenants/" + tenant.Data.Tenant.ID + "/channels"
		if err := cl.must(ctx, "POST", base, adminKey, map[string]any{"kind": "messenger", "name": fmt.Sprintf("soak %d", ch), "default_country": "US"}, &created); err != nil {
			return s, err
		}
		chID := created.Data.ID
		for range tokens {
			if err := cl.must(ctx, "POST", base+"/"+chID+"/tokens", adminKey, map[string]any{"name": "soak"}, &created); err != nil {
				return s, err
			}
			s.tokens[ch] = append(s.tokens[ch], created.Data.Token)
		}
		if err := cl.must(ctx, "POST", "/v1/connections", s.tokens[ch][0], map[string]any{"name": fmt.Sprintf("soak %d", ch),
			"url": fmt.Sprintf("%s/t/%d", targetURL, ch), "triggers": []string{"email"}, "fields": []string{"psid", "email"}}, &created); err != nil {
			return s, err
		}
		s.connIDs[created.Data.ID] = ch
	}
	return s, nil
}

// maxHidden bounds the wait for queued messages after the deliveries stop
// progressing: the longest a fault of the dispatcher's own hides one
// (dispatch.FaultBackoff), plus the queue's visibility timeout.
const maxHidden = 15*time.Minute + visibility

// depth is a queue's approximate message counts.
type depth struct{ visible, inFlight, delayed int }

func queueDepth(ctx context.Context, client *sqs.Client, url string) (depth, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return depth{}, err
	}
	n := func(k string) int { v, _ := strconv.Atoi(out.Attributes[k]); return v }
	return depth{n("ApproximateNumberOfMessages"), n("ApproximateNumberOfMessagesNotVisible"), n("ApproximateNumberOfMessagesDelayed")}, nil
}

// connByIndex is the ID of connection i.
func (s setup) connByIndex(i int) string {
	for id, n := range s.connIDs {
		if n == i {
			return id
		}
	}
	return "?"
}

// deadLister lists a tenant's dead deliveries (ddbstore.Connections).
type deadLister interface {
	ListDead(ctx context.Context, tenantID string, limit int, cursor string) (connections.DeadPage, error)
}

// deadDeliveries lists the tenant's dead deliveries, of every channel: the
// expected ones, and how many are the 410 connection's. It reads the store:
// GET /v1/deliveries/dead lists one channel's (its token's) only.
func deadDeliveries(ctx context.Context, store deadLister, s setup) (map[pair]bool, int, error) {
	dead := map[pair]bool{}
	gone := 0
	cursor := ""
	for {
		page, err := store.ListDead(ctx, s.tenantID, 100, cursor)
		if err != nil {
			return dead, gone, err
		}
		for _, d := range page.Items {
			conn, ok := s.connIDs[d.ConnectionID]
			if !ok {
				continue
			}
			if conn == goneConn {
				gone++
				continue
			}
			var payload map[string]string
			_ = json.Unmarshal(d.Payload, &payload)
			dead[pair{conn: conn, email: payload["email"]}] = true
		}
		if cursor = page.Next; cursor == "" {
			return dead, gone, nil
		}
	}
}

// client calls the local API.
type client struct {
	base string
	http *http.Client
}

// do sends a request; out, if not nil, receives the decoded answer. It
// returns the status and the Retry-After of a 429.
func (c *client) do(ctx context.Context, method, path, auth string, body, out any) (int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, 0, err
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
		retryAfter = time.Duration(s) * time.Second
	}
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, retryAfter, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, retryAfter, &statusError{method: method, path: path, status: res.StatusCode, body: string(b)}
	}
	return res.StatusCode, retryAfter, nil
}

// must is do for set-up calls: any answer but 2xx is an error.
func (c *client) must(ctx context.Context, method, path, auth string, body, out any) error {
	_, _, err := c.do(ctx, method, path, auth, body, out)
	return err
}

type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// stdoutTo points os.Stdout at a pipe copied to w, until restore.
func stdoutTo(w io.Writer) (restore func(), err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	real := os.Stdout
	os.Stdout = pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(w, pr)
	}()
	return func() {
		os.Stdout = real
		_ = pw.Close()
		<-done
	}, nil
}
