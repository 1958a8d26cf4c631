package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/webhook"
	"github.com/startmsg/chatbackend/shared/wiring"
)

const tableName, opsTableName = "connectorbench", "connectorbench-ops"

// stack is one fresh in-memory emulator pair with the table and queues, and
// the functions' Deps on it, as `make run` builds them (loopback targets
// allowed). Every scenario gets its own: dynoxide's writes slow down with
// every stream record it holds, in every stream-enabled table of the
// process, so one scenario's writes would tax the next.
type stack struct {
	emu    *emulators.Stack
	d      *wiring.Env
	sqs    *sqs.Client
	queues provision.Queues
	calls  *connector.Calls
	store  *ddbstore.Connections
	// onSent, when set, is told of every message body the stack's clients
	// sent successfully with SendMessageBatch (the trigger router's queueing).
	onSent atomic.Pointer[func(bodies []string, at time.Time)]
	// received counts the messages ReceiveMessage calls returned.
	received atomic.Int64
}

// sentOption is an SDK middleware that reports successful
// SendMessageBatch calls to onSent and counts received messages.
func (s *stack) sentOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("connectorbench-sent",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if r, ok := out.Result.(*sqs.ReceiveMessageOutput); ok && err == nil {
				s.received.Add(int64(len(r.Messages)))
			}
			if f := s.onSent.Load(); f != nil && err == nil {
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

// sdkIdleConns, when > 0, replaces the SDK HTTP client's idle connections
// per host (diagnostic -sdk-idle-conns; the functions use the default).
var sdkIdleConns int

// noStream turns the table's stream off after provisioning (diagnostic
// -no-stream, scenarios 1 and 2 only: nothing reads the stream there).
var noStream bool

func startStack(ctx context.Context, needStream bool) (*stack, error) {
	emu, err := emulators.Start(ctx, emulators.Options{})
	if err != nil {
		return nil, err
	}
	s := &stack{emu: emu, calls: &connector.Calls{}}
	cfg := emu.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, s.calls.APIOption, s.sentOption)
	if sdkIdleConns > 0 {
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = sdkIdleConns
		})
	}
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
	if noStream && !needStream {
		_, err := s.d.DDB.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:           aws.String(tableName),
			StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)},
		})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("turn the stream off: %w", err)
		}
	}
	s.sqs = sqs.NewFromConfig(cfg)
	if s.queues, err = provision.EnsureQueues(ctx, s.sqs, ""); err != nil {
		s.close()
		return nil, err
	}
	vars[appenv.QueueURL], vars[appenv.DLQURL] = s.queues.DeliveriesURL, s.queues.DLQURL
	s.d = wiring.FromConfig(cfg, getenv)
	s.store = s.d.Connections()
	s.calls.Reset()
	return s, nil
}

func (s *stack) close() { s.emu.Stop() }

// dispatcher is the dispatcher exactly as dispatch.Build wires it, but
// returned whole so a scenario can wrap its Handle.
func (s *stack) dispatcher() *dispatch.Dispatcher {
	return dispatch.New(s.store, newDeliveryClient(s.d), s.sqs, s.queues.DeliveriesURL)
}

// newDeliveryClient is the delivery client of dispatch.Build.
func newDeliveryClient(d *wiring.Env) *delivery.Client {
	return delivery.New(dispatch.Policy(d.Getenv), delivery.AttemptTimeout)
}

// connection stores an enabled connection of tenant/channel to url.
func (s *stack) connection(ctx context.Context, tenantID, channelID, id, url string, triggers ...connections.Trigger) (connections.Connection, error) {
	now := time.Now().Unix()
	c := connections.Connection{
		ID: id, TenantID: tenantID, ChannelID: channelID, Name: id, URL: url, Triggers: triggers,
		Fields: []string{}, Secrets: []connections.Secret{{Value: webhook.NewSecret()}}, Source: connections.SourceAPI,
		Enabled: true, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	return c, s.store.CreateConnection(ctx, c)
}

// queueDepth is the deliveries queue's visible and in-flight messages.
func (s *stack) queueDepth(ctx context.Context) (visible, inFlight string) {
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.queues.DeliveriesURL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return "?", "?"
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

// newSink starts an httptest server in front of sink (keep-alive on).
func newSink(sink *connector.Sink) *httptest.Server { return httptest.NewServer(sink) }

// timedHandler wraps an SQS handler and reports when each call started
// and ended.
func timedHandler(h lambdaapp.QueueHandler, onStart func(events.SQSEvent, time.Time), onEnd func(events.SQSEvent, time.Time, time.Time)) lambdaapp.QueueHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		if onStart != nil {
			onStart(ev, start)
		}
		resp, err := h(ctx, ev)
		if onEnd != nil {
			onEnd(ev, start, time.Now())
		}
		return resp, err
	}
}

// emfCounter takes os.Stdout over, so that the dispatcher's EMF metric
// line per attempt (written to os.Stdout, where Lambda's log capture reads
// it) neither mixes with the report nor is skipped: the lines are still
// written to a pipe, and counted.
type emfCounter struct {
	real  *os.File
	w     *os.File
	lines atomic.Int64
	done  chan struct{}
}

func takeStdout() (*emfCounter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c := &emfCounter{real: os.Stdout, w: w, done: make(chan struct{})}
	os.Stdout = w
	go func() {
		defer close(c.done)
		buf := make([]byte, 64<<10)
		for {
			k, err := r.Read(buf)
			c.lines.Add(int64(bytes.Count(buf[:k], []byte{'\n'})))
			if err != nil {
				return
			}
		}
	}()
	return c, nil
}

// Lines is how many lines were written to os.Stdout so far.
func (c *emfCounter) Lines() int { return int(c.lines.Load()) }

// restore gives os.Stdout back.
func (c *emfCounter) restore() {
	os.Stdout = c.real
	_ = c.w.Close()
	<-c.done
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// contactsStore is the contact store on the stack's table.
func (s *stack) contactsStore() *ddbstore.Contacts {
	return s.d.Contacts()
}

// probeWrites times 50 sequential PutItems of a scratch item (not a
// contact: the router skips it) and returns their median in ms.
func (s *stack) probeWrites(ctx context.Context) (float64, error) {
	var ts []time.Duration
	for i := range 50 {
		t0 := time.Now()
		_, err := s.d.DDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.d.DataTable), Item: map[string]ddbtypes.AttributeValue{
			ddbstore.AttrPK: &ddbtypes.AttributeValueMemberS{Value: "BENCHPROBE#" + strconv.Itoa(i)},
			ddbstore.AttrSK: &ddbtypes.AttributeValueMemberS{Value: "PROBE"},
		}})
		if err != nil {
			return 0, fmt.Errorf("probe write: %w", err)
		}
		ts = append(ts, time.Since(t0))
	}
	return connector.Summarise(ts).P50MS, nil
}

// messengerTenant creates a tenant with one Messenger channel (default
// country PK, named "Bench page" unless in names it) and answers their
// scope.
func messengerTenant(ctx context.Context, ten *tenancy.Service, tenant string, in tenancy.ChannelInput) (contacts.Scope, error) {
	nt, err := ten.CreateTenant(ctx, tenant)
	if err != nil {
		return contacts.Scope{}, err
	}
	in.Kind, in.DefaultCountry, in.Name = string(tenancy.Messenger), "PK", cmp.Or(in.Name, "Bench page")
	ch, err := ten.CreateChannel(ctx, nt.Tenant.ID, in)
	if err != nil {
		return contacts.Scope{}, err
	}
	return contacts.Scope{TenantID: nt.Tenant.ID, ChannelID: ch.ID, DefaultCountry: "PK"}, nil
}
