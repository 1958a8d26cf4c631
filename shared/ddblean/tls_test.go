package ddblean_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/shared/ddblean"
)

// TestTLS: over HTTPS (as in AWS) the lean transport signs, sends and
// reads its calls on kept connections: TLS over its raw socket calls.
func TestTLS(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if err := checkSignature(r, body); err != nil {
			t.Errorf("signature: %v", err)
		}
		found(w)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.StaticCredentialsProvider{Value: testCreds},
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		}),
	}
	lean := ddblean.New(dynamodb.NewFromConfig(cfg))
	for i := range 5 {
		out, err := getItem(context.Background(), lean)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(out.Item) == 0 {
			t.Fatalf("call %d: no item", i)
		}
	}
	if lean.LeanCalls() != 5 || requests.Load() != 5 || conns.Load() != 1 {
		t.Errorf("%d lean calls, %d requests on %d connections; want 5, 5, 1", lean.LeanCalls(), requests.Load(), conns.Load())
	}
}

// TestKeptPastDeadline: a kept connection whose last call's deadline has
// passed (Lambda gives each invocation one) serves the next call; it is
// not taken for closed and dialled again.
func TestKeptPastDeadline(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { found(w) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	_, lean := clientsWith(srv.URL, 1)
	for i := range 3 {
		// A deadline a loaded machine's call meets (50 ms did not, once),
		// waited out before the next call.
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		_, err := getItem(ctx, lean)
		if err != nil {
			cancel()
			t.Fatalf("call %d: %v", i, err)
		}
		<-ctx.Done()
		cancel()
		time.Sleep(20 * time.Millisecond) // past the call's deadline
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 calls, want 1", n)
	}
}
