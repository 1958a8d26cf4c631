package ddblean

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// parseHead reads header lines back into a header map.
func parseHead(t *testing.T, head []byte) http.Header {
	t.Helper()
	h := http.Header{}
	s := string(head)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("header lines do not end with CRLF: %q", s)
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("malformed header line %q", line)
		}
		h[k] = append(h[k], v)
	}
	return h
}

// TestLeanSignerMatchesSDK signs the same requests with the lean signer and
// with the SDK's v4 signer: the same headers, the same Authorization.
func TestLeanSignerMatchesSDK(t *testing.T) {
	credsList := []aws.Credentials{
		{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH=="},
		{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "  spaced  token  "},
	}
	endpoints := []string{
		"https://dynamodb.eu-west-1.amazonaws.com/",
		"https://dynamodb.eu-west-1.amazonaws.com:443/",
		"http://127.0.0.1:8000/",
		"http://localhost:80",
		"http://127.0.0.1:8000/some%20path/",
	}
	times := []time.Time{
		time.Date(2026, 12, 5, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 12, 6, 0, 0, 1, 0, time.UTC),
		time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
	}
	bodies := []string{`{}`, `{"TableName":"t","Key":{"PK":{"S":"a b"}}}`}
	var s signer
	var sc signScratch
	for _, creds := range credsList {
		for _, ep := range endpoints {
			u, err := url.Parse(ep)
			if err != nil {
				t.Fatal(err)
			}
			if u.Path == "" {
				u.Path = "/"
			}
			uri, ok := canonicalURI(u)
			if !ok {
				t.Fatalf("%s: not signable", ep)
			}
			for _, at := range times {
				for _, region := range []string{"eu-west-1", "us-east-1"} {
					for _, body := range bodies {
						sum := sha256.Sum256([]byte(body))
						hash := hex.EncodeToString(sum[:])
						target := opGetItem.target
						head := s.appendHeaders(nil, &sc, creds, region, signHost(u), uri, target, len(body), hash, at)
						got := parseHead(t, head)

						cu := *u
						req := &http.Request{Method: http.MethodPost, URL: &cu, Host: u.Host, Header: http.Header{}, ContentLength: int64(len(body))}
						req.Header["Content-Type"] = contentType
						req.Header["X-Amz-Target"] = []string{target}
						req.Header["Accept-Encoding"] = identity
						if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "dynamodb", region, at.UTC()); err != nil {
							t.Fatal(err)
						}
						if len(got) != len(req.Header) {
							t.Errorf("%s %s: headers %v, the SDK's %v", ep, at, got, req.Header)
						}
						for k, want := range req.Header {
							if g := got[k]; len(g) != 1 || len(want) != 1 || g[0] != want[0] {
								t.Errorf("%s %s %s: %s = %q, the SDK's %q", ep, at, region, k, g, want)
							}
						}
						if h := signHost(u); h != req.Host {
							t.Errorf("%s: host %q, the SDK signs %q", ep, h, req.Host)
						}
					}
				}
			}
		}
	}
}

// TestCanonicalURIRefuses: URLs the lean signer does not cover go to the
// SDK's signer.
func TestCanonicalURIRefuses(t *testing.T) {
	for _, ep := range []string{"http://h/?a=b", "http://h/?"} {
		u, _ := url.Parse(ep)
		if _, ok := canonicalURI(u); ok {
			t.Errorf("%s: signable", ep)
		}
	}
}

// TestLeanSignerAllocations: a signature allocates nothing once its
// buffers and the day's key exist (the SDK's signer makes about 30
// allocations per request).
func TestLeanSignerAllocations(t *testing.T) {
	var s signer
	var sc signScratch
	creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token"}
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	head := make([]byte, 0, 1024)
	n := testing.AllocsPerRun(100, func() {
		head = s.appendHeaders(head[:0], &sc, creds, "eu-west-1", "dynamodb.eu-west-1.amazonaws.com", "/", opGetItem.target, 42, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", at)
	})
	if n > 0 {
		t.Errorf("%v allocations per signature, want 0", n)
	}
}
