package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/whatsapp"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

const tableName, opsTableName = "msgbench", "msgbench-ops"

// The template every benchmark message is: approved in the channel's
// registry and known to the sandbox, without parameters.
const (
	tplName     = "bench_update"
	tplLanguage = "en"
	tplText     = "Your order has shipped."
)

// startSandbox starts the process's provider sandbox (one for every
// scenario: the functions' Cloud API client reads WHATSAPP_API_BASE_URL
// once per process) and points the client at it. It posts no status
// webhooks: the benchmarks end at the provider's acceptance (status sent).
func startSandbox() (*sandbox.Server, error) {
	sb, err := sandbox.Listen("127.0.0.1:0", sandbox.Options{
		Templates: []sandbox.Template{{Name: tplName, Language: tplLanguage, Category: "UTILITY",
			Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: tplText}}}},
		// Far more than a run sends: Sends must see every message.
		MaxRecords: 1_000_000,
	})
	if err != nil {
		return nil, err
	}
	if err := os.Setenv(whatsapp.EnvBaseURL, sb.URL); err != nil {
		sb.Close()
		return nil, err
	}
	return sb, nil
}

// stack is one fresh in-memory emulator pair with the tables and queues,
// the functions' Env on it as `make run` builds it, and a tenant with a
// WhatsApp channel whose credentials point at the sandbox.
type stack struct {
	emu *emulators.Stack
	d   *wiring.Env
	sqs *sqs.Client
	// pollSQS is the pollers' client: its SendMessageBatch calls (the fair
	// poller putting messages back over a tenant's share) are not the
	// router's queueing, so onQueued is not told of them.
	pollSQS *sqs.Client
	queues  provision.Queues
	calls   *connector.Calls

	tenantID, channelID string
	creds               sender.Credentials

	// onQueued, when set, is told of every outbox task the stack's clients
	// queued with SendMessageBatch (the trigger router's queueing).
	onQueued atomic.Pointer[func(bodies []string, at time.Time)]

	dir  string // the emulators' data ("" in memory)
	keep time.Duration
	// readTo, when set, is the time before which the stream's consumer has
	// read every record that matters to it: records after it are never
	// trimmed, whatever their age.
	readTo   atomic.Pointer[time.Time]
	stopTrim func()
	trimmed  atomic.Int64
	trimErr  atomic.Pointer[error]
}

// Stream trimming. dynoxide (1.2.1) keeps every stream record and reads
// them all on each write to the table: without trimming, a write's cost
// grows with every record the run made (10,000 messages make about 50,000:
// the message, its claims, retries and sent update, the provider id's
// pointer) until dynoxide crawls; DynamoDB keeps 24 hours of records at no
// cost to writes. make run trims likewise (hourly, 24 h). A stack with a
// stream consumer keeps streamKeep of records, and none the consumer has
// not read yet (stack.readTo: on a busy machine the router falls a minute
// behind); one without (throughput, baselines) keeps scratchKeep.
const (
	streamKeep  = 30 * time.Second
	scratchKeep = time.Second
)

// trimEvery is how often a stack trims: every 5 s, or every 2 s when it
// keeps less than 10 s.
func trimEvery(keep time.Duration) time.Duration {
	if keep < 10*time.Second {
		return 2 * time.Second
	}
	return 5 * time.Second
}

func (s *stack) sentOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("msgbench-queued",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if f := s.onQueued.Load(); f != nil && err == nil {
				if b, ok := in.Parameters.(*sqs.SendMessageBatchInput); ok {
					bodies := make([]string, len(b.Entries))
					for i, e := range b.Entries {
						bodies[i] = aws.ToString(e.MessageBody)
					}
					(*f)(bodies, time.Now())
				}
			}
			return out, md, err
		}), middleware.After)
}

// startStack starts a stack with its data in a temporary folder (on
// /dev/shm where there is one) and its stream records older than keep
// trimmed; with keep 0, in memory and untrimmed.
func startStack(ctx context.Context, keep time.Duration) (*stack, error) {
	var dir string
	if keep > 0 {
		var err error
		// In memory where there is a tmpfs: SQLite's syncs on a disk
		// slow dynoxide more than its stream does at a few thousand
		// messages.
		base := ""
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
		if dir, err = os.MkdirTemp(base, "msgbench-data-"); err != nil {
			return nil, err
		}
	}
	emu, err := emulators.Start(ctx, emulators.Options{DataDir: dir})
	if err != nil {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
		return nil, err
	}
	s := &stack{emu: emu, calls: &connector.Calls{}, dir: dir, keep: keep, stopTrim: func() {}}
	if dir != "" {
		tctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-tctx.Done():
					return
				case <-time.After(trimEvery(keep)):
				}
				k := keep
				if t := s.readTo.Load(); t != nil {
					k = max(k, time.Since(*t)+5*time.Second)
				}
				n, err := emu.TrimStreams(tctx, k)
				if err != nil && tctx.Err() == nil {
					s.trimErr.Store(&err)
				}
				s.trimmed.Add(int64(n))
			}
		}()
		s.stopTrim = func() {
			cancel()
			<-done
		}
	}
	cfg := emu.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, s.calls.APIOption, s.sentOption)
	vars := map[string]string{
		appenv.TableName:            tableName,
		appenv.OpsTableName:         opsTableName,
		appenv.Stage:                "bench",
		appenv.AllowLoopbackTargets: "true",
	}
	getenv := func(k string) string { return vars[k] }
	s.d = wiring.FromConfig(cfg, getenv)
	if err := provision.EnsureTables(ctx, s.d.DDB, tableName, opsTableName); err != nil {
		s.close()
		return nil, err
	}
	s.sqs = sqs.NewFromConfig(cfg)
	pollCfg := emu.AWSConfig()
	pollCfg.APIOptions = append(pollCfg.APIOptions, s.calls.APIOption)
	s.pollSQS = sqs.NewFromConfig(pollCfg)
	if s.queues, err = provision.EnsureQueues(ctx, s.sqs, ""); err != nil {
		s.close()
		return nil, err
	}
	vars[appenv.QueueURL], vars[appenv.DLQURL] = s.queues.DeliveriesURL, s.queues.DLQURL
	vars[appenv.OutboxURL], vars[appenv.OutboxDLQURL] = s.queues.OutboxURL, s.queues.OutboxDLQURL
	s.d = wiring.FromConfig(cfg, getenv)
	if err := s.seed(ctx); err != nil {
		s.close()
		return nil, err
	}
	s.calls.Reset()
	return s, nil
}

func (s *stack) close() {
	s.stopTrim()
	s.emu.Stop()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// seed makes the tenant, its WhatsApp channel with Cloud API credentials
// and the approved template.
func (s *stack) seed(ctx context.Context) error {
	store := s.d.Tenancy()
	ten := &tenancy.Service{Store: store, Now: time.Now, Instances: store}
	nt, err := ten.CreateTenant(ctx, "msgbench")
	if err != nil {
		return err
	}
	ch, err := ten.CreateChannel(ctx, nt.Tenant.ID, tenancy.ChannelInput{Kind: string(tenancy.WhatsApp), Name: "Bench number", DefaultCountry: "PK"})
	if err != nil {
		return err
	}
	in := tenancy.WhatsAppInput{AccessToken: "EAAmsgbench0123456789abcdef", PhoneNumberID: "109876543210987", WABAID: "100000000000001",
		AppSecret: "msgbench-app-secret", VerifyToken: "vt_msgbench"}
	if _, err := ten.SetWhatsApp(ctx, store, nt.Tenant.ID, ch.ID, in); err != nil {
		return fmt.Errorf("whatsapp credentials: %w", err)
	}
	s.tenantID, s.channelID = nt.Tenant.ID, ch.ID
	s.creds = sender.Credentials{AccessToken: in.AccessToken, AccountID: in.PhoneNumberID}
	reg := messaging.Of(s.d).TemplateRegistry()
	reg.Submitter = templates.LocalOnly{}
	name, lang, cat := tplName, tplLanguage, "UTILITY"
	comps := []templates.Component{{Type: "BODY", Text: tplText}}
	if _, err := reg.Create(ctx, s.tenantID, s.channelID, templates.Input{Name: &name, Language: &lang, Category: &cat, Components: &comps}); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	return reg.SetStatus(ctx, s.tenantID, s.channelID, tplName, tplLanguage, templates.StatusApproved, "")
}

// message is the i-th benchmark message as POST /v1/messages stores it.
func (s *stack) message(prefix string, i int) messages.Message {
	return messages.Message{
		ID: fmt.Sprintf("msg_%s%07d", prefix, i), TenantID: s.tenantID, ChannelID: s.channelID, ChannelKind: string(tenancy.WhatsApp),
		Direction: messages.Outbound, Type: messages.TypeTemplate, To: fmt.Sprintf("+9230000%05d", i%100000),
		Template: &messages.Template{Name: tplName, Language: tplLanguage}, Status: messages.StatusQueued, CreatedAt: time.Now().UnixMilli(),
	}
}

// createMessages stores the messages on workers goroutines.
func (s *stack) createMessages(ctx context.Context, ms []messages.Message, workers int) error {
	store := s.d.Messages()
	return bench.Parallel(ctx, workers, len(ms), func(ctx context.Context, i int) error {
		return store.CreateMessage(ctx, ms[i])
	})
}

// enqueue puts one outbox task per message on the outbox queue, as the
// trigger router queues them.
func (s *stack) enqueue(ctx context.Context, ms []messages.Message) error {
	var batches [][]messages.Message
	for i := 0; i < len(ms); i += 10 {
		batches = append(batches, ms[i:min(i+10, len(ms))])
	}
	return bench.Parallel(ctx, 8, len(batches), func(ctx context.Context, i int) error {
		b := batches[i]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(b))
		for j, m := range b {
			body, err := json.Marshal(sender.NewTask(m))
			if err != nil {
				return err
			}
			entries[j] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)),
				MessageBody: aws.String(string(body)), MessageGroupId: queue.GroupID(m.TenantID)}
		}
		out, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.queues.OutboxURL), Entries: entries})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("outbox: %d of %d not queued", len(out.Failed), len(entries))
		}
		return err
	})
}

// sender is the sender as sender.Build wires it, returned whole so
// a scenario may compress its retry schedule.
func (s *stack) sender() *sender.Sender {
	url, _ := s.d.Outbox()
	return sender.New(messaging.Of(s.d).SenderStore(), messaging.Of(s.d).MessageProviders(), messaging.Of(s.d).ProviderCredentials(), s.sqs, url, s.d.Clock())
}

// registrySender is the sender exactly as the registry builds it.
func (s *stack) registrySender() lambdaapp.QueueHandler { return registry.Queues["sender"](s.d) }

// outboxDepth is the outbox queue's visible and in-flight messages, and
// its DLQ's.
func (s *stack) outboxDepth(ctx context.Context) (visible, inFlight, dlq string) {
	attr := func(url string) map[string]string {
		out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return map[string]string{}
		}
		return out.Attributes
	}
	o, d := attr(s.queues.OutboxURL), attr(s.queues.OutboxDLQURL)
	return o["ApproximateNumberOfMessages"], o["ApproximateNumberOfMessagesNotVisible"], d["ApproximateNumberOfMessages"]
}

// startGateway serves every route as make run does (authorizer cache as
// in AWS) on a free port.
func (s *stack) startGateway() (*apiClient, func(), error) {
	gw, err := gateway.ForRoutes(s.d, registry.All(), "adm_msgbench_unused", 300*time.Second)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	api := &apiClient{&bench.API{Base: "http://" + ln.Addr().String(), HTTP: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}}}
	return api, func() { _ = srv.Close() }, nil
}

// timed wraps a queue handler, reporting each batch's messages when it
// starts.
func timed(h lambdaapp.QueueHandler, onStart func(events.SQSEvent, time.Time)) lambdaapp.QueueHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		onStart(ev, time.Now())
		return h(ctx, ev)
	}
}
