// Package ddblean is the lean DynamoDB client of the request path: the
// operations the stores make (ddbstore.API) sent straight over HTTP in
// DynamoDB's JSON protocol, without the SDK's per-operation middleware
// stack, while keeping the SDK's behaviour where it matters:
//
//   - the request is signed with the SDK's own SigV4 signer, with the
//     client's (cached) credentials provider, for the endpoint the SDK's
//     endpoint resolver gives (a region's endpoint in AWS, the configured
//     base endpoint locally);
//   - retries go through the client's own retryer (the SDK's standard one:
//     throttling, 5xx, connection errors, with its backoff and retry quota);
//   - errors are the SDK's: DynamoDB's error answers are decoded by the
//     SDK's protocol with its type registry (ConditionalCheckFailedException
//     with its item, TransactionCanceledException with its reasons, …) and
//     wrapped as the SDK wraps them (smithy.OperationError around an
//     awshttp.ResponseError);
//   - the Initialize middlewares of the config's APIOptions (the IAM access
//     audit, the benchmark's recorder) see every call, with the SDK input.
//
// GetItem, Query, UpdateItem, PutItem and DeleteItem encode their requests
// and decode their answers by hand (encode.go, decode.go);
// TransactWriteItems and BatchGetItem go through the SDK's protocol
// serialisers on the same lean transport. Anything the lean path does not
// cover (per-call options, ARNs as table names, APIOptions that add to
// other steps than Initialize, legacy parameters) goes to the SDK client.
package ddblean

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Client is a DynamoDB client for the operations of ddbstore.API. Build it
// with New from the SDK client it falls back to.
type Client struct {
	sdk     *dynamodb.Client
	opts    dynamodb.Options
	http    dynamodb.HTTPClient
	creds   aws.CredentialsProvider
	signer  *v4.Signer
	retryer aws.RetryerV2
	// initOpts are the config's APIOptions when they add Initialize
	// middlewares, nil when there are none (as in Lambda). A middleware
	// stack serves one call at a time: stacks with them applied wait in
	// stacks, one per operation.
	initOpts []func(*middleware.Stack) error
	stacks   sync.Map // *op → *sync.Pool of *middleware.Stack
	// off sends every call to the SDK client (see New).
	off bool
	// traceHeader: in Lambda, X-Amzn-Trace-Id from _X_AMZN_TRACE_ID, as
	// the SDK's recursion detection adds it.
	inLambda bool

	// leanCalls counts the calls the lean path made (for the tests).
	leanCalls atomic.Int64
	// sig signs the requests sent over conns (sign.go).
	sig signer

	mu        sync.Mutex
	endpoints map[string]*endpoint // by credentials' account ID
}

// endpoint is a resolved endpoint and its connections (nil: requests go
// through the HTTP client's Do).
type endpoint struct {
	url   string
	u     *url.URL
	conns *conns
	// uri is the canonical URI the lean signer signs, "" when the SDK's
	// signer signs this endpoint's requests (see canonicalURI).
	uri string
}

// New builds the lean client over sdk, with sdk's options: its HTTP client,
// credentials, region, endpoint resolver, retryer and APIOptions.
func New(sdk *dynamodb.Client) *Client {
	o := sdk.Options()
	c := &Client{sdk: sdk, opts: o, http: o.HTTPClient, creds: o.Credentials, endpoints: map[string]*endpoint{}}
	c.inLambda = os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != ""
	if c.http == nil {
		c.http = awshttp.NewBuildableClient()
	}
	if c.creds != nil && !aws.IsCredentialsProvider(c.creds, (*aws.AnonymousCredentials)(nil)) {
		if _, ok := c.creds.(*aws.CredentialsCache); !ok {
			c.creds = aws.NewCredentialsCache(c.creds)
		}
	}
	c.signer = v4.NewSigner(func(so *v4.SignerOptions) {
		so.Logger = o.Logger
		so.LogSigning = o.ClientLogMode.IsSigning()
	})
	switch r := o.Retryer.(type) {
	case aws.RetryerV2:
		c.retryer = r
	case nil:
		c.retryer = v2Retryer{aws.NopRetryer{}}
	default:
		c.retryer = v2Retryer{r}
	}
	if len(o.APIOptions) > 0 {
		st := middleware.NewStack("ddblean", smithyhttp.NewStackRequest)
		for _, fn := range o.APIOptions {
			if err := fn(st); err != nil {
				c.off = true
			}
		}
		// Only Initialize middlewares see SDK inputs the same way here;
		// anything else needs the SDK's stack.
		if len(st.Serialize.List())+len(st.Build.List())+len(st.Finalize.List())+len(st.Deserialize.List()) > 0 {
			c.off = true
		}
		if len(st.Initialize.List()) > 0 {
			c.initOpts = o.APIOptions
		}
	}
	if c.creds == nil || aws.IsCredentialsProvider(c.creds, (*aws.AnonymousCredentials)(nil)) ||
		o.AccountIDEndpointMode == aws.AccountIDEndpointModeRequired || o.EndpointResolverV2 == nil {
		c.off = true
	}
	return c
}

// Lean reports whether calls take the lean path (false: every call goes to
// the SDK client, see New).
func (c *Client) Lean() bool { return !c.off }

// SDK is the SDK client the lean client falls back to.
func (c *Client) SDK() *dynamodb.Client { return c.sdk }

type v2Retryer struct{ aws.Retryer }

func (r v2Retryer) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}

// op is one DynamoDB operation.
type op struct {
	name   string
	target string
	schema *smithy.OperationSchema
}

func newOp(name string, s, in, out *smithy.Schema) *op {
	return &op{name: name, target: "DynamoDB_20120810." + name, schema: smithy.NewOperationSchema(s, in, out)}
}

var (
	opGetItem            = newOp("GetItem", schemas.GetItem, schemas.GetItemInput, schemas.GetItemOutput)
	opPutItem            = newOp("PutItem", schemas.PutItem, schemas.PutItemInput, schemas.PutItemOutput)
	opUpdateItem         = newOp("UpdateItem", schemas.UpdateItem, schemas.UpdateItemInput, schemas.UpdateItemOutput)
	opDeleteItem         = newOp("DeleteItem", schemas.DeleteItem, schemas.DeleteItemInput, schemas.DeleteItemOutput)
	opQuery              = newOp("Query", schemas.Query, schemas.QueryInput, schemas.QueryOutput)
	opTransactWriteItems = newOp("TransactWriteItems", schemas.TransactWriteItems, schemas.TransactWriteItemsInput, schemas.TransactWriteItemsOutput)
	opBatchGetItem       = newOp("BatchGetItem", schemas.BatchGetItem, schemas.BatchGetItemInput, schemas.BatchGetItemOutput)
)

// codec encodes one call's input and decodes its answer.
type codec interface {
	// encode appends the JSON request body; ok false when the lean
	// encoder does not cover the input (the SDK's serialiser then does).
	encode(b []byte) ([]byte, bool)
	// decode reads a 2xx answer's body into the output; false when the
	// lean decoder does not cover it (the SDK's deserialiser then does,
	// after reset). The output's strings may share body's memory: body
	// is the call's own and is never written to again.
	decode(body []byte) bool
	reset()
	output() smithy.Deserializable
}

// arnTable reports a table named by ARN: the SDK's endpoint rules treat
// those apart, so such calls go to the SDK client.
func arnTable(name *string) bool { return name != nil && strings.HasPrefix(*name, "arn:") }

// call runs one operation: the Initialize middlewares of the APIOptions,
// then the attempts under the retryer. params is the SDK input the
// middlewares see; mk builds the codec from the input they pass on.
func (c *Client) call(ctx context.Context, o *op, params any, mk func(any) codec) (any, error) {
	if c.initOpts == nil {
		return c.invoke(ctx, o, params, mk(params))
	}
	pool, _ := c.stacks.Load(o)
	if pool == nil {
		pool, _ = c.stacks.LoadOrStore(o, &sync.Pool{})
	}
	st, _ := pool.(*sync.Pool).Get().(*middleware.Stack)
	if st == nil {
		st = middleware.NewStack(o.name, smithyhttp.NewStackRequest)
		for _, fn := range c.initOpts {
			if err := fn(st); err != nil {
				return nil, wrapOp(o, err)
			}
		}
	}
	defer pool.(*sync.Pool).Put(st)
	ctx = middleware.WithServiceID(middleware.ClearStackValues(ctx), dynamodb.ServiceID)
	ctx = middleware.WithOperationName(ctx, o.name)
	out, _, err := st.Initialize.HandleMiddleware(ctx, params,
		middleware.HandlerFunc(func(ctx context.Context, p any) (any, middleware.Metadata, error) {
			res, err := c.invoke(ctx, o, p, mk(p))
			return res, middleware.Metadata{}, err
		}))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// invoke is the retry loop of the SDK's retry middleware (retry.Attempt):
// attempt tokens, the retryer's verdict, its retry quota and delay.
func (c *Client) invoke(ctx context.Context, o *op, params any, cd codec) (any, error) {
	body, ok := cd.encode(nil)
	if !ok {
		ser, isSer := params.(smithy.Serializable)
		if !isSer {
			return nil, wrapOp(o, fmt.Errorf("input %T is not Serializable", params))
		}
		var err error
		if body, err = c.serialize(ctx, o, ser); err != nil {
			return nil, wrapOp(o, err)
		}
	}
	c.leanCalls.Add(1)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	maxAttempts := c.retryer.MaxAttempts()
	releaseRetry := nopRelease
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, wrapOp(o, err)
		}
		releaseAttempt, err := c.retryer.GetAttemptToken(ctx)
		if err != nil {
			return nil, wrapOp(o, fmt.Errorf("failed to get retry Send token, %w", err))
		}
		err = c.attempt(ctx, o, body, hash, cd)
		if rerr := releaseRetry(err); rerr != nil && err != nil {
			return nil, wrapOp(o, fmt.Errorf("failed to release retry token after request error, %w", err))
		}
		if rerr := releaseAttempt(err); rerr != nil && err != nil {
			return nil, wrapOp(o, fmt.Errorf("failed to release initial token after request error, %w", err))
		}
		if err == nil {
			return cd.output(), nil
		}
		if !c.retryer.IsErrorRetryable(err) {
			return nil, wrapOp(o, err)
		}
		if maxAttempts > 0 && attempt >= maxAttempts {
			return nil, wrapOp(o, &retryMaxAttemptsError{Attempt: attempt, Err: err})
		}
		var terr error
		releaseRetry, terr = c.retryer.GetRetryToken(ctx, err)
		if terr != nil {
			return nil, wrapOp(o, errors.Join(err, terr))
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, wrapOp(o, derr)
		}
		if serr := sleep(ctx, delay); serr != nil {
			return nil, wrapOp(o, &aws.RequestCanceledError{Err: serr})
		}
	}
}

func nopRelease(error) error { return nil }

// retryMaxAttemptsError is retry.MaxAttemptsError's message and unwrapping.
type retryMaxAttemptsError struct {
	Attempt int
	Err     error
}

func (e *retryMaxAttemptsError) Error() string {
	return fmt.Sprintf("exceeded maximum number of attempts, %d, %v", e.Attempt, e.Err)
}
func (e *retryMaxAttemptsError) Unwrap() error { return e.Err }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func wrapOp(o *op, err error) error {
	return &smithy.OperationError{ServiceID: dynamodb.ServiceID, OperationName: o.name, Err: err}
}

// serialize is the SDK protocol's body for in.
func (c *Client) serialize(ctx context.Context, o *op, in smithy.Serializable) ([]byte, error) {
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if err := c.opts.Protocol.SerializeRequest(ctx, o.schema, in, req); err != nil {
		return nil, &smithy.SerializationError{Err: err}
	}
	r := req.GetStream()
	if r == nil {
		return []byte("{}"), nil
	}
	return io.ReadAll(r)
}

// endpointFor is the endpoint the SDK's resolver gives for the current
// credentials.
func (c *Client) endpointFor(ctx context.Context, account string) (*endpoint, error) {
	c.mu.Lock()
	ep, ok := c.endpoints[account]
	c.mu.Unlock()
	if ok {
		return ep, nil
	}
	p := dynamodb.EndpointParameters{
		Region:                aws.String(c.opts.Region),
		UseDualStack:          aws.Bool(c.opts.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:               aws.Bool(c.opts.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:              c.opts.BaseEndpoint,
		AccountIdEndpointMode: aws.String(string(c.opts.AccountIDEndpointMode)),
	}
	if account != "" && c.opts.AccountIDEndpointMode != aws.AccountIDEndpointModeDisabled {
		p.AccountId = aws.String(account)
	}
	res, err := c.opts.EndpointResolverV2.ResolveEndpoint(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve service endpoint, %w", err)
	}
	uri := res.URI
	if uri.Path == "" {
		uri.Path = "/"
	}
	ep = &endpoint{url: uri.String(), u: &uri, conns: newConns(c.http, &uri)}
	if ep.conns != nil {
		if cu, ok := canonicalURI(&uri); ok {
			ep.uri = cu
		}
	}
	c.mu.Lock()
	if old, ok := c.endpoints[account]; ok {
		ep = old
	} else {
		c.endpoints[account] = ep
	}
	c.mu.Unlock()
	return ep, nil
}

// attempt sends the signed request once and decodes the answer.
func (c *Client) attempt(ctx context.Context, o *op, body []byte, hash string, cd codec) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("failed to retrieve credentials: %w", err)
	}
	ep, err := c.endpointFor(ctx, creds.AccountID)
	if err != nil {
		return err
	}
	if ep.uri != "" {
		return c.attemptLean(ctx, o, ep, creds, body, hash, cd)
	}
	var req *http.Request
	if ep.conns != nil {
		// Only signed and written out by conns: no URL to parse again (a
		// copy: the signer sets its RawQuery).
		u := *ep.u
		req = &http.Request{Method: http.MethodPost, URL: &u, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header, 8), ContentLength: int64(len(body))}
	} else if req, err = http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body)); err != nil {
		return err
	}
	h := req.Header
	h["Content-Type"] = contentType
	h["X-Amz-Target"] = []string{o.target}
	h["Accept-Encoding"] = identity
	if c.inLambda {
		if t := os.Getenv("_X_AMZN_TRACE_ID"); t != "" {
			h["X-Amzn-Trace-Id"] = []string{t}
		}
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hash, "dynamodb", c.opts.Region, time.Now().UTC()); err != nil {
		return fmt.Errorf("failed to sign request: %w", err)
	}
	var a *answer
	if ep.conns != nil {
		a, err = ep.conns.roundTrip(ctx, headerLines(nil, req.Header), body)
	} else {
		a, err = c.do(req)
	}
	return c.finish(ctx, o, func() *http.Request { return req }, a, err, cd)
}

// scratch is one attempt's buffers, reused.
type scratch struct {
	head []byte
	sign signScratch
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// attemptLean is attempt over conns, signed by the lean signer: no
// http.Request unless the answer is an error.
func (c *Client) attemptLean(ctx context.Context, o *op, ep *endpoint, creds aws.Credentials, body []byte, hash string, cd codec) error {
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	head := sc.head[:0]
	if c.inLambda {
		if t := os.Getenv("_X_AMZN_TRACE_ID"); t != "" {
			head = append(head, "X-Amzn-Trace-Id: "...)
			head = append(head, t...)
			head = append(head, "\r\n"...)
		}
	}
	head = c.sig.appendHeaders(head, &sc.sign, creds, c.opts.Region, ep.conns.host, ep.uri, o.target, len(body), hash, time.Now())
	sc.head = head
	a, err := ep.conns.roundTrip(ctx, head, body)
	return c.finish(ctx, o, func() *http.Request { return leanRequest(ep, head, len(body)) }, a, err, cd)
}

// leanRequest is the request attemptLean sent, as an *http.Request (for
// the errors that carry the response and its request).
func leanRequest(ep *endpoint, head []byte, n int) *http.Request {
	u := *ep.u
	req := &http.Request{Method: http.MethodPost, URL: &u, Host: ep.conns.host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, ContentLength: int64(n)}
	for _, line := range strings.Split(strings.TrimSuffix(string(head), "\r\n"), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			req.Header[k] = append(req.Header[k], v)
		}
	}
	return req
}

// finish turns the answer a (or the send error err) of the request req
// gives into the call's outcome: the decoded output in cd, or the error as
// the SDK returns it (req is called only then).
func (c *Client) finish(ctx context.Context, o *op, req func() *http.Request, a *answer, err error, cd codec) error {
	if err != nil {
		if ctx.Err() != nil {
			return &smithy.CanceledError{Err: ctx.Err()}
		}
		return &smithyhttp.RequestSendError{Err: err}
	}
	if a.status < 200 || a.status >= 300 {
		sresp := &smithyhttp.Response{Response: a.response(req())}
		err := c.opts.Protocol.DeserializeResponse(ctx, o.schema, dynamodb.TypeRegistry, sresp, cd.output())
		if err == nil {
			err = &smithy.GenericAPIError{Code: "UnknownError", Message: a.statusMsg}
		}
		sresp.Body = io.NopCloser(bytes.NewReader(a.body))
		return &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: sresp, Err: err},
			RequestID:     a.requestID,
		}
	}
	data := a.body
	if v := a.crc32; v != "" && !c.opts.DisableValidateResponseChecksum {
		want, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return &smithy.DeserializationError{Err: fmt.Errorf("unable to parse checksum header %v, %w", v, perr)}
		}
		if got := crc32.ChecksumIEEE(data); uint32(want) != got {
			return &smithy.DeserializationError{Err: fmt.Errorf("failed to validate response checksum, expected %v, got %v", want, got)}
		}
	}
	if cd.decode(data) {
		return nil
	}
	cd.reset()
	sresp := &smithyhttp.Response{Response: a.response(req())}
	return c.opts.Protocol.DeserializeResponse(ctx, o.schema, dynamodb.TypeRegistry, sresp, cd.output())
}

var (
	contentType = []string{"application/x-amz-json-1.0"}
	identity    = []string{"identity"}
)

// do sends req through the HTTP client and reads the whole answer.
func (c *Client) do(req *http.Request) (*answer, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	data, err := readBody(resp)
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, statusMsg: resp.Status, header: resp.Header, body: data,
		requestID: resp.Header.Get("X-Amzn-Requestid"), crc32: resp.Header.Get("X-Amz-Crc32")}
	if a.statusMsg == "" {
		a.statusMsg = strconv.Itoa(resp.StatusCode)
	}
	return a, nil
}

// readBody reads the whole body and closes it (the connection goes back
// to the pool).
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	n := resp.ContentLength
	if n < 0 || n > 16<<20 {
		return io.ReadAll(resp.Body)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		return nil, err
	}
	// Reach EOF so that the transport reuses the connection.
	var one [1]byte
	if k, _ := resp.Body.Read(one[:]); k > 0 {
		rest, err := io.ReadAll(resp.Body)
		return append(append(b, one[0]), rest...), err
	}
	return b, nil
}
