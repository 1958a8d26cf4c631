// Command run is `make run`: the whole system on this machine. It starts the
// emulators with data kept under .local/, creates the table and queues,
// seeds a demo tenant with one channel of each kind, serves every route on
// the local gateway, runs the stream and queue pollers for the event
// functions, and stops everything on Ctrl-C. With DYNAMODB_ENDPOINT set
// (http://host:port) it uses that DynamoDB instead of starting dynoxide,
// which npm ships for linux-x64 only.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // the IANA zone database for allowed hours: the local stack runs the installations' functions in this process, as their Lambdas embed it

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

const tableName, opsTableName = provision.LocalTable, provision.LocalOpsTable

func main() {
	cfg, err := configFrom(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

// config is what `make run` runs with: flags, each defaulting to an
// environment variable.
type config struct {
	port, dynamoPort, sqsPort int
	// dynamoEndpoint is a DynamoDB to use instead of starting dynoxide
	// (DYNAMODB_ENDPOINT, http://host:port).
	dynamoEndpoint string
	dataDir        string
	cacheTTL       time.Duration
	// ipLimit is the gateway's limit on unauthenticated and failed calls
	// per source address and minute (0 disables).
	ipLimit int
	// streamRetention is how old a stream record gets before it is trimmed
	// from dynoxide's file (24 h, as in DynamoDB); trimEvery how often
	// that is done after the trim at start.
	streamRetention, trimEvery time.Duration
	// sandboxPort is the WhatsApp provider sandbox's (0: any free port).
	sandboxPort int
}

// DefaultIPLimit is make run's limit on unauthenticated calls and failed
// authentications per source address and minute.
const DefaultIPLimit = 100

// configFrom reads the flags in args, with defaults from getenv.
func configFrom(args []string, getenv func(string) string) (config, error) {
	c := config{streamRetention: emulators.StreamRetention, trimEvery: time.Hour}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.IntVar(&c.port, "port", envInt(getenv, "PORT", 8080), "gateway port (env PORT)")
	fs.IntVar(&c.dynamoPort, "dynamo-port", envInt(getenv, "DYNAMO_PORT", 8000), "DynamoDB emulator port (env DYNAMO_PORT)")
	fs.IntVar(&c.sqsPort, "sqs-port", envInt(getenv, "SQS_PORT", 9324), "SQS emulator port (env SQS_PORT)")
	fs.StringVar(&c.dynamoEndpoint, "dynamodb-endpoint", getenv(emulators.EndpointVar),
		"use the DynamoDB at this http://host:port instead of starting dynoxide (env "+emulators.EndpointVar+")")
	fs.StringVar(&c.dataDir, "data", ".local", "where data and demo credentials are kept")
	fs.DurationVar(&c.cacheTTL, "auth-cache", 300*time.Second, "authorizer cache TTL, as in AWS (0 disables)")
	fs.IntVar(&c.ipLimit, "ip-limit", envIntOrZero(getenv, "IP_RATE_LIMIT", DefaultIPLimit),
		"unauthenticated calls and failed authentications allowed per source address and minute, then 429 (0 disables; env IP_RATE_LIMIT)")
	fs.IntVar(&c.sandboxPort, "sandbox-port", envInt(getenv, "SANDBOX_PORT", 8090), "WhatsApp provider sandbox port (env SANDBOX_PORT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.ipLimit < 0 {
		return c, fmt.Errorf("-ip-limit %d: want 0 (off) or more", c.ipLimit)
	}
	if c.dynamoEndpoint != "" {
		u, err := url.Parse(c.dynamoEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return c, fmt.Errorf("%s=%q: want http://host:port (DynamoDB Local, a cargo-built dynoxide)", emulators.EndpointVar, c.dynamoEndpoint)
		}
	}
	return c, nil
}

// run serves until ctx ends. ready, if not nil, receives the API URL once
// everything answers.
func run(ctx context.Context, c config, ready chan<- string) error {
	port, dataDir, cacheTTL := c.port, c.dataDir, c.cacheTTL
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %d is in use (another make run?): stop it or set PORT=<free port>: %w", port, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dataDir, "emulators.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	stack, err := emulators.Start(ctx, emulators.Options{DataDir: dataDir, DynamoPort: c.dynamoPort, SQSPort: c.sqsPort,
		DynamoEndpoint: c.dynamoEndpoint, Log: logFile})
	if err != nil {
		return err
	}
	defer stack.Stop()
	// dynoxide keeps every stream record and reads them all on each write
	// to the table: trim them to DynamoDB's 24 hours, now and hourly.
	trimCtx, stopTrim := context.WithCancel(ctx)
	trimmed := make(chan struct{})
	go func() {
		defer close(trimmed)
		trimStreams(trimCtx, stack, c.streamRetention, c.trimEvery)
	}()
	defer func() {
		stopTrim()
		<-trimmed
	}()

	// The functions find the emulators exactly as they find AWS: through
	// the environment and lambdaapp.LoadConfig (wiring.Load).
	for _, kv := range stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	os.Setenv(appenv.TableName, tableName)
	os.Setenv(appenv.OpsTableName, opsTableName)
	// A local stage: the only kind on which a function accepts
	// ALLOW_LOOPBACK_TARGETS (wiring.CheckLoopback).
	os.Setenv(appenv.Stage, "local")
	os.Setenv(appenv.AllowLoopbackTargets, "true")
	// The WhatsApp Cloud API stand-in, before the functions read where
	// the Cloud API is.
	sb, err := startSandbox(c.sandboxPort, "http://"+addr, filepath.Join(dataDir, "demo.env"))
	if err != nil {
		return err
	}
	defer sb.Close()
	pointTwilio(sb.URL, "http://"+addr) // twilio.go
	d, err := wiring.Load(ctx)
	if err != nil {
		return err
	}
	if err := provision.EnsureTables(ctx, d.DDB, tableName, opsTableName); err != nil {
		return err
	}
	// Data kept from a version that indexed contacts in the data table.
	if ran, st, err := d.Contacts().ReindexOnce(ctx, nil); err != nil {
		return err
	} else if ran && (st.Removed > 0 || st.Contacts > 0) {
		fmt.Printf("search index rebuilt on the operations table: %d contacts, %d entries, %d old items removed\n", st.Contacts, st.Entries, st.Removed)
	}
	// Data kept from a version whose contact keys did not hold the channel.
	if ran, st, err := d.Contacts().MigrateContactKeysOnce(ctx, nil); err != nil {
		return err
	} else if ran && st.Moved+st.Clashed > 0 {
		fmt.Printf("contacts moved to channel-scoped keys: %d moved, %d left (their key was taken)\n", st.Moved, st.Clashed)
	}
	// Data kept from a version before the tenants' contact counters.
	if ran, st, err := d.Contacts().BackfillContactCountsOnce(ctx, nil); err != nil {
		return err
	} else if ran && st.Counted > 0 {
		fmt.Printf("contacts counted in their tenants' contact counters: %d\n", st.Counted)
	}
	// Data kept from a version before the channel's message listing.
	if ran, n, err := d.Messages().IndexChannelMessagesOnce(ctx, nil); err != nil {
		return err
	} else if ran && n > 0 {
		fmt.Printf("messages indexed for their channel's listing: %d\n", n)
	}
	sqsClient := sqs.NewFromConfig(d.AWS)
	queues, err := provision.EnsureQueues(ctx, sqsClient, "")
	if err != nil {
		return err
	}
	os.Setenv(appenv.QueueURL, queues.DeliveriesURL)
	os.Setenv(appenv.DLQURL, queues.DLQURL)
	os.Setenv(appenv.OutboxURL, queues.OutboxURL)
	os.Setenv(appenv.OutboxDLQURL, queues.OutboxDLQURL)
	if d, err = wiring.Load(ctx); err != nil {
		return err
	}

	apiURL := "http://" + addr
	demo, err := seedDemo(ctx, d, filepath.Join(dataDir, "demo.env"), apiURL)
	if err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}
	if changed, err := seedWhatsApp(ctx, d, demo); err != nil {
		return err
	} else if changed {
		if err := writeEnv(filepath.Join(dataDir, "demo.env"), demo); err != nil {
			return err
		}
	}
	if changed, err := seedTwilio(ctx, d, demo); err != nil {
		return err
	} else if changed {
		if err := writeEnv(filepath.Join(dataDir, "demo.env"), demo); err != nil {
			return err
		}
	}
	if changed, err := seedInstallation(ctx, d, demo); err != nil {
		return err
	} else if changed {
		if err := writeEnv(filepath.Join(dataDir, "demo.env"), demo); err != nil {
			return err
		}
	}
	if err := recordSandbox(filepath.Join(dataDir, "demo.env"), demo, sb); err != nil {
		return err
	}
	if err := seedDemoTemplate(ctx, d, demo); err != nil {
		return err
	}
	if changed, err := seedAutomation(ctx, d, demo); err != nil {
		return err
	} else if changed {
		if err := writeEnv(filepath.Join(dataDir, "demo.env"), demo); err != nil {
			return err
		}
	}
	// The tenant, channel, token and contact the sample events (events/)
	// name, so that `make invoke` answers as documented.
	if err := appevents.Seed(ctx, d); err != nil {
		return err
	}
	gwCfg, err := gateway.LocalConfig(d, registry.All(), demo["ADMIN_KEY"], cacheTTL)
	if err != nil {
		return err
	}
	gwCfg.IPLimit = c.ipLimit
	gw, err := gateway.New(gwCfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 8)
	go func() { errc <- srv.Serve(gateway.EnvelopeListener(ln)) }()
	pollersDone := startPollers(ctx, d, sqsClient, queues, dataDir, errc)

	banner(os.Stdout, apiURL, stack, dataDir, cacheTTL, c.ipLimit)
	sandboxBanner(os.Stdout, sb)
	if ready != nil {
		ready <- apiURL
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	fmt.Println("\nstopping…")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// The deliveries in hand finish (their attempt, its log, the message's
	// visibility or deletion) before the emulators stop, so none waits out
	// the queue's whole visibility timeout after the next start.
	if ctx.Err() != nil {
		select {
		case <-pollersDone:
		case <-time.After(drainTime + 5*time.Second):
			fmt.Println("deliveries still in hand after", drainTime+5*time.Second, "; stopping anyway")
		}
	}
	return err
}

// drainTime is how long the batches in hand get to finish after Ctrl-C:
// an attempt's own time limit plus room for its bookkeeping.
const drainTime = delivery.AttemptTimeout + 5*time.Second

// trimStreams trims the stream records older than retention now and then
// every interval until ctx ends; failures are reported and retried at the
// next interval.
func trimStreams(ctx context.Context, stack *emulators.Stack, retention, every time.Duration) {
	for {
		if n, err := stack.TrimStreams(ctx, retention); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "make run: stream trim:", err)
		} else if n > 0 {
			fmt.Printf("stream records older than %s trimmed: %d\n", retention, n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// startPollers plays the part of Lambda's event-source mappings. The
// channel it returns is closed once every poller has returned.
func startPollers(ctx context.Context, d *wiring.Env, sqsClient *sqs.Client, q provision.Queues, dataDir string, errc chan<- error) <-chan struct{} {
	var wg sync.WaitGroup
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			p := &pollers.StreamPoller{DDB: d.DDB, Streams: dynamodbstreams.NewFromConfig(d.AWS), Table: d.DataTable,
				BatchSize: f.BatchSize, Handler: registry.Streams[f.Function](d), Checkpoints: checkpointsFile(dataDir, f.Function),
				Filter: pollers.RouteFilter(f.StreamFilters())}
			wg.Go(func() { report(errc, p.Run(ctx)) })
		case "queue":
			// Long polls of 5 s, not Lambda's 20 s: Ctrl-C lets the pending
			// ones end (see SQSPoller.receive), and waits no longer than that.
			p := &pollers.SQSPoller{Client: sqsClient, QueueURL: q.DeliveriesURL, QueueARN: q.DeliveriesARN,
				BatchSize: f.BatchSize, Handler: registry.Queues[f.Function](d), Drain: drainTime, WaitTime: 5 * time.Second,
				Concurrency: dispatchWorkers(d.Getenv), Fair: true, GroupOf: deliveryGroup}
			wg.Go(func() { report(errc, p.Run(ctx)) })
		case "outbox":
			// The sender, on the outbox queue: shared fairly between
			// tenants as the deliveries are (tasks carry tenant_id).
			p := &pollers.SQSPoller{Client: sqsClient, QueueURL: q.OutboxURL, QueueARN: q.OutboxARN,
				BatchSize: f.BatchSize, Handler: registry.Queues[f.Function](d), Drain: drainTime, WaitTime: 5 * time.Second,
				Concurrency: senderWorkers(d.Getenv), Fair: true, GroupOf: deliveryGroup}
			wg.Go(func() { report(errc, p.Run(ctx)) })
		case routes.SourceSchedule:
			// The scheduler's ticker, every SCHEDULER_TICK_SECONDS (10):
			// AWS's one-minute rule, played more often.
			p := &pollers.SchedulePoller[scheduler.Result]{Function: f.Function, Handler: registry.Schedules[f.Function](d), Every: pollers.TickEvery(d.Getenv)}
			wg.Go(func() { report(errc, p.Run(ctx)) })
		}
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// dispatchWorkers is how many batches the local dispatcher handles at once
// (pollers.ConcurrencySetting, default 4): with fair scheduling, one of
// them is kept for tenants other than the busiest (see
// pollers.SQSPoller.Fair).
func dispatchWorkers(getenv func(string) string) int {
	if strings.TrimSpace(getenv(pollers.ConcurrencySetting)) == "" {
		return 4
	}
	return pollers.Concurrency(getenv)
}

// senderWorkers is how many outbox batches the local sender handles at
// once (pollers.SenderConcurrencySetting, default
// pollers.DefaultSenderConcurrency; 1 to 64).
func senderWorkers(getenv func(string) string) int {
	n, err := strconv.Atoi(strings.TrimSpace(getenv(pollers.SenderConcurrencySetting)))
	if err != nil || n < 1 || n > 64 {
		return pollers.DefaultSenderConcurrency
	}
	return n
}

// deliveryGroup is a delivery message's tenant: its MessageGroupId, which
// the emulator does not keep on a standard queue, else its body's tenant.
func deliveryGroup(m sqstypes.Message) string {
	if g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "" {
		return g
	}
	return aws.ToString(queue.GroupOfBody(aws.ToString(m.Body)))
}

// report passes a poller's error on to run, without blocking once run has
// stopped reading.
func report(errc chan<- error, err error) {
	if err == nil {
		return
	}
	select {
	case errc <- err:
	default:
	}
}

// checkpointsFile is where a stream consumer's poller keeps its position:
// one file per consumer, as each event-source mapping has its own position
// in the stream (the trigger router keeps the name it always had).
func checkpointsFile(dataDir, fn string) string {
	if fn == "trigger-router" {
		return filepath.Join(dataDir, "stream-checkpoints.json")
	}
	return filepath.Join(dataDir, "stream-checkpoints-"+fn+".json")
}

// seedDemo makes the demo tenant once and keeps its credentials in
// demo.env; later runs reuse them while they still resolve.
func seedDemo(ctx context.Context, d *wiring.Env, path, apiURL string) (map[string]string, error) {
	store := d.Tenancy()
	if env, err := readEnv(path); err == nil && env["ACCOUNT_SECRET"] != "" && env["ADMIN_KEY"] != "" {
		ok := true
		for k, v := range env {
			if k == "ACCOUNT_SECRET" || strings.HasPrefix(k, "TOKEN_") {
				if _, err := store.LookupCredential(ctx, tenancy.Hash(v)); err != nil {
					ok = false
				}
			}
		}
		if ok {
			env["API_URL"] = apiURL
			return env, writeEnv(path, env)
		}
	}
	svc := &tenancy.Service{Store: store, Now: time.Now}
	nt, err := svc.CreateTenant(ctx, "Demo")
	if err != nil {
		return nil, err
	}
	adminKey, _ := tenancy.NewSecret("adm_")
	env := map[string]string{
		"API_URL":        apiURL,
		"ADMIN_KEY":      adminKey,
		"TENANT_ID":      nt.Tenant.ID,
		"ACCOUNT_SECRET": nt.AccountSecret,
	}
	for _, kind := range tenancy.ChannelKinds {
		// The demo channels read local numbers as Pakistani ones, so the
		// Contacts API document's own example (03244077087) works as is.
		c, err := svc.CreateChannel(ctx, nt.Tenant.ID, tenancy.ChannelInput{Kind: string(kind), Name: "Demo " + string(kind), DefaultCountry: "PK"})
		if err != nil {
			return nil, err
		}
		tok, err := svc.CreateToken(ctx, nt.Tenant.ID, c.ID, "demo")
		if err != nil {
			return nil, err
		}
		env["CHANNEL_"+strings.ToUpper(string(kind))] = c.ID
		env["TOKEN_"+strings.ToUpper(string(kind))] = tok.Secret
	}
	return env, writeEnv(path, env)
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env, sc.Err()
}

func writeEnv(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by make run: the local demo tenant's credentials.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// banner says what runs where. It shows no credential: they are in
// demo.env, which the "Try" line reads.
func banner(w io.Writer, apiURL string, stack *emulators.Stack, dataDir string, cacheTTL time.Duration, ipLimit int) {
	dynamo := fmt.Sprintf("(dynoxide, data in %s/)", dataDir)
	if stack.External {
		dynamo = "(" + emulators.EndpointVar + ": not started here, data kept there)"
	}
	ipLine := fmt.Sprintf("%d unauthenticated or failed calls per address and minute, then 429 (-ip-limit, IP_RATE_LIMIT)", ipLimit)
	if ipLimit == 0 {
		ipLine = "off (-ip-limit 0)"
	}
	fmt.Fprintf(w, `
  Chat backend — local stack
  ──────────────────────────
  API            %s   (every route of shared/routes; also under /api)
  OpenAPI        %s/openapi.json
  Panel          %s/dashboard/   (sign in with a TOKEN_<KIND> of demo.env)
  DynamoDB       %s   %s
  SQS            %s   (fauxqs, queues and messages in %s/sqs/)
  Credentials    %s/demo.env   (API_URL, ADMIN_KEY, ACCOUNT_SECRET, TOKEN_<KIND>)
  Auth cache     %s (as in AWS; revoking a token or rotating a secret flushes it)
  Per-address    %s
  Dev setting    STAGE=local, ALLOW_LOOPBACK_TARGETS=true: webhook targets on 127.0.0.1 are allowed
  Samples        tenant ten_sample, channel ch_sample, token tok_sample (events/): make invoke FN=me EVENT=events/apigw/me.json

  Try:  source %s/demo.env && curl -H "Authorization: Bearer $TOKEN_MESSENGER" $API_URL/v1/me

  Ctrl-C stops everything; the next make run keeps the data.
`, apiURL, apiURL, apiURL, stack.DynamoEndpoint, dynamo, stack.SQSEndpoint, dataDir, dataDir, cacheTTL, ipLine, dataDir)
}

// envIntOrZero is envInt that also takes 0 (to turn a setting off).
func envIntOrZero(getenv func(string) string, name string, def int) int {
	var n int
	if _, err := fmt.Sscan(getenv(name), &n); err == nil && n >= 0 {
		return n
	}
	return def
}

func envInt(getenv func(string) string, name string, def int) int {
	var n int
	if _, err := fmt.Sscan(getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}
