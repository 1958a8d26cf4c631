package ddblean_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/ddblean"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", SessionToken: "session"}

// fakeDynamo answers with answers in turn (the last one again and again),
// after checking each request's SigV4 signature; it counts requests.
func fakeDynamo(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		body, _ := io.ReadAll(r.Body)
		if err := checkSignature(r, body); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
		if got := r.Header.Get("X-Amz-Target"); !strings.HasPrefix(got, "DynamoDB_20120810.") {
			t.Errorf("X-Amz-Target %q", got)
		}
		answers[min(i, len(answers)-1)](w)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// checkSignature signs a copy of r again, at its X-Amz-Date, and wants the
// same Authorization: the headers sent are the ones signed.
func checkSignature(r *http.Request, body []byte) error {
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	cp, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
	for k, vs := range r.Header {
		if k != "Authorization" && k != "X-Amz-Date" && k != "X-Amz-Security-Token" && k != "User-Agent" && k != "Accept-Encoding" && k != "Content-Length" {
			cp.Header[k] = vs
		}
	}
	cp.Header.Set("Accept-Encoding", r.Header.Get("Accept-Encoding"))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, cp, hex.EncodeToString(sum[:]), "dynamodb", "eu-west-1", at); err != nil {
		return err
	}
	if got, want := r.Header.Get("Authorization"), cp.Header.Get("Authorization"); got != want {
		return errors.New("signature differs:\n got " + got + "\nwant " + want)
	}
	if r.Header.Get("X-Amz-Security-Token") != testCreds.SessionToken {
		return errors.New("no session token")
	}
	return nil
}

func throttled(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "REQ1")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
}

func unavailable(w http.ResponseWriter) {
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}`)
}

const foundBody = `{"Item":{"PK":{"S":"p"}}}`

func found(w http.ResponseWriter) {
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(foundBody))), 10))
	io.WriteString(w, foundBody)
}

// clients are an SDK client and a lean one for the fake, with the
// standard retryer without waiting.
func clients(url string) (*dynamodb.Client, *ddblean.Client) { return clientsWith(url, 0) }

// clientsWith: maxAttempts > 0 sets the retryer's attempts.
func clientsWith(url string, maxAttempts int) (*dynamodb.Client, *ddblean.Client) {
	cfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.StaticCredentialsProvider{Value: testCreds},
		BaseEndpoint: aws.String(url),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				if maxAttempts > 0 {
					o.MaxAttempts = maxAttempts
				}
			})
		},
	}
	return dynamodb.NewFromConfig(cfg), ddblean.New(dynamodb.NewFromConfig(cfg))
}

func getItem(ctx context.Context, api interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}) (*dynamodb.GetItemOutput, error) {
	return api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}}})
}

// TestRetriesAsSDK: throttling and 5xx answers are retried as the SDK's
// standard retryer does (same number of attempts), and the final error is
// the SDK's.
func TestRetriesAsSDK(t *testing.T) {
	ctx := context.Background()
	for name, answers := range map[string][]func(http.ResponseWriter){
		"throttled twice":  {throttled, throttled, found},
		"503 once":         {unavailable, found},
		"always throttled": {throttled},
		"always 503":       {unavailable},
	} {
		var results [2]struct {
			n   int64
			out *dynamodb.GetItemOutput
			err error
		}
		for i := range 2 {
			srv, n := fakeDynamo(t, answers...)
			sdk, lean := clients(srv.URL)
			if i == 0 {
				results[i].out, results[i].err = getItem(ctx, sdk)
			} else {
				if !lean.Lean() {
					t.Fatal("lean client off")
				}
				results[i].out, results[i].err = getItem(ctx, lean)
				if lean.LeanCalls() != 1 {
					t.Errorf("%s: the call did not take the lean path", name)
				}
			}
			results[i].n = n.Load()
		}
		sdk, got := results[0], results[1]
		if got.n != sdk.n {
			t.Errorf("%s: %d requests, SDK %d", name, got.n, sdk.n)
		}
		if (got.err == nil) != (sdk.err == nil) {
			t.Fatalf("%s: error %v, SDK %v", name, got.err, sdk.err)
		}
		if sdk.err != nil {
			gv, wv := viewErr(got.err), viewErr(sdk.err)
			if gv.Code != wv.Code || gv.Message != wv.Message || gv.Status != wv.Status || gv.Op != wv.Op {
				t.Errorf("%s: error %+v, SDK %+v", name, gv, wv)
			}
			var mae *retry.MaxAttemptsError
			if errors.As(sdk.err, &mae) && !strings.Contains(got.err.Error(), "exceeded maximum number of attempts, 3") {
				t.Errorf("%s: %v, want the attempts exhausted as %v", name, got.err, sdk.err)
			}
			var pte *types.ProvisionedThroughputExceededException
			if errors.As(sdk.err, &pte) != errors.As(got.err, &pte) {
				t.Errorf("%s: ProvisionedThroughputExceededException: %v vs SDK %v", name, got.err, sdk.err)
			}
			var ise *types.InternalServerError
			if errors.As(sdk.err, &ise) != errors.As(got.err, &ise) {
				t.Errorf("%s: InternalServerError: %v vs SDK %v", name, got.err, sdk.err)
			}
		} else if got.out.Item["PK"].(*types.AttributeValueMemberS).Value != "p" {
			t.Errorf("%s: item %v", name, got.out.Item)
		}
	}
}

// TestChecksumMismatch: an answer whose body does not match its
// X-Amz-Crc32 fails (the SDK only notices when it closes the body, and
// drops that error).
func TestChecksumMismatch(t *testing.T) {
	srv, _ := fakeDynamo(t, func(w http.ResponseWriter) {
		w.Header().Set("X-Amz-Crc32", "1")
		io.WriteString(w, `{"Item":{"PK":{"S":"p"}}}`)
	})
	_, lean := clients(srv.URL)
	if _, err := getItem(context.Background(), lean); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("err %v, want a checksum mismatch", err)
	}
}

// TestStaleConnection: a kept-alive connection the server closes while it
// is idle is not used for the next call (which succeeds at its one
// attempt).
func TestStaleConnection(t *testing.T) {
	srv, n := fakeDynamo(t, found)
	_, lean := clientsWith(srv.URL, 1)
	ctx := context.Background()
	if _, err := getItem(ctx, lean); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if _, err := getItem(ctx, lean); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2 (no retry)", n.Load())
	}
}

// TestCanceled: a cancelled context ends a call waiting on its answer.
func TestCanceled(t *testing.T) {
	release := make(chan struct{})
	srv, _ := fakeDynamo(t, func(w http.ResponseWriter) { <-release; found(w) })
	defer close(release)
	_, lean := clients(srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := getItem(ctx, lean)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}
