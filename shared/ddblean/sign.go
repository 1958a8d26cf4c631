package ddblean

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// The lean path's SigV4 signing. Its requests always carry the same
// headers (Accept-Encoding, Content-Length, Content-Type, Host, X-Amz-Date,
// X-Amz-Security-Token when the credentials have a session token,
// X-Amz-Target; X-Amzn-Trace-Id, which SigV4 ignores), so the canonical
// request is written straight into a buffer in its sorted order, where the
// SDK's signer builds header maps, sorts their names and joins strings on
// every call. The derived signing key is kept per access key, day and
// region, as the SDK's signer keeps it. Tests check every signature
// against the SDK's signer (sign_test.go) and against the fake DynamoDB
// that verifies each request it gets (retry_test.go).

const (
	signAlgorithm = "AWS4-HMAC-SHA256"
	signService   = "dynamodb"
	// signedNames are the signed headers' names, sorted.
	signedNames      = "accept-encoding;content-length;content-type;host;x-amz-date;x-amz-target"
	signedNamesToken = "accept-encoding;content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
)

// signHost is the Host an endpoint's requests carry and sign: the URL's
// host without the scheme's default port (the SDK's signer strips it too).
func signHost(u *url.URL) string {
	h := u.Host
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		h = strings.TrimSuffix(h, ":"+p)
	}
	return h
}

// canonicalURI is the endpoint's path as SigV4 canonicalises it, and false
// when the lean signer does not cover the URL (a query, an opaque URL):
// such endpoints are signed by the SDK's signer.
func canonicalURI(u *url.URL) (string, bool) {
	if u.RawQuery != "" || u.ForceQuery || u.Opaque != "" || strings.ContainsAny(u.Host, " \t") {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return httpbinding.EscapePath(p, false), true
}

// signingKey is the derived key of one access key, day and region, with
// its HMAC pads.
type signingKey struct {
	accessKey, secret, day, region string
	ipad, opad                     [sha256.BlockSize]byte
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func newSigningKey(creds aws.Credentials, day, region string) *signingKey {
	k := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), []byte(day))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(signService))
	k = hmacSHA256(k, []byte("aws4_request"))
	sk := &signingKey{accessKey: creds.AccessKeyID, secret: creds.SecretAccessKey, day: day, region: region}
	copy(sk.ipad[:], k) // 32 bytes, zero-padded to the block size
	copy(sk.opad[:], k)
	for i := range sk.ipad {
		sk.ipad[i] ^= 0x36
		sk.opad[i] ^= 0x5c
	}
	return sk
}

// signer signs the lean path's requests; safe for concurrent use.
type signer struct {
	key atomic.Pointer[signingKey] // the last one derived
}

func (s *signer) keyFor(creds aws.Credentials, day []byte, region string) *signingKey {
	if k := s.key.Load(); k != nil && k.accessKey == creds.AccessKeyID && k.secret == creds.SecretAccessKey &&
		k.region == region && k.day == string(day) {
		return k
	}
	k := newSigningKey(creds, string(day), region)
	s.key.Store(k)
	return k
}

// stripSpaces is SigV4's header value canonicalisation: no leading or
// trailing spaces, runs of spaces as one.
func stripSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := range len(s) {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// signScratch is one signature's working buffers.
type signScratch struct {
	canon []byte
	toSig []byte
	mac   []byte
}

// appendHeaders appends the request's signed header lines ("Name: value"
// and CRLF, Host and Content-Length excepted: conns writes those) and its
// Authorization for a body of length n whose SHA-256 is payloadHash (hex),
// signed at t for region, over the endpoint's host and canonical URI.
func (s *signer) appendHeaders(b []byte, sc *signScratch, creds aws.Credentials, region, host, uri, target string, n int, payloadHash string, t time.Time) []byte {
	t = t.UTC()
	var stamp [16]byte
	date := t.AppendFormat(stamp[:0], "20060102T150405Z")
	day := date[:8]
	token := stripSpaces(creds.SessionToken)
	names := signedNames
	if creds.SessionToken != "" {
		names = signedNamesToken
	}

	// The canonical request.
	c := append(sc.canon[:0], "POST\n"...)
	c = append(c, uri...)
	c = append(c, "\n\naccept-encoding:identity\ncontent-length:"...)
	c = strconv.AppendInt(c, int64(n), 10)
	c = append(c, "\ncontent-type:application/x-amz-json-1.0\nhost:"...)
	c = append(c, host...)
	c = append(c, "\nx-amz-date:"...)
	c = append(c, date...)
	if creds.SessionToken != "" {
		c = append(c, "\nx-amz-security-token:"...)
		c = append(c, token...)
	}
	c = append(c, "\nx-amz-target:"...)
	c = append(c, stripSpaces(target)...)
	c = append(c, "\n\n"...)
	c = append(c, names...)
	c = append(c, '\n')
	c = append(c, payloadHash...)
	sc.canon = c
	sum := sha256.Sum256(c)

	// The string to sign, after the inner HMAC pad.
	k := s.keyFor(creds, day, region)
	m := append(sc.toSig[:0], k.ipad[:]...)
	m = append(m, signAlgorithm+"\n"...)
	m = append(m, date...)
	m = append(m, '\n')
	scope := len(m)
	m = append(m, day...)
	m = append(m, '/')
	m = append(m, region...)
	m = append(m, "/"+signService+"/aws4_request"...)
	scopeEnd := len(m)
	m = append(m, '\n')
	m = hex.AppendEncode(m, sum[:])
	sc.toSig = m
	inner := sha256.Sum256(m)
	o := append(sc.mac[:0], k.opad[:]...)
	o = append(o, inner[:]...)
	sc.mac = o
	sig := sha256.Sum256(o)

	b = append(b, "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: "...)
	b = append(b, target...)
	b = append(b, "\r\nAccept-Encoding: identity\r\nX-Amz-Date: "...)
	b = append(b, date...)
	if creds.SessionToken != "" {
		b = append(b, "\r\nX-Amz-Security-Token: "...)
		b = append(b, creds.SessionToken...)
	}
	b = append(b, "\r\nAuthorization: "+signAlgorithm+" Credential="...)
	b = append(b, creds.AccessKeyID...)
	b = append(b, '/')
	b = append(b, m[scope:scopeEnd]...)
	b = append(b, ", SignedHeaders="...)
	b = append(b, names...)
	b = append(b, ", Signature="...)
	b = hex.AppendEncode(b, sig[:])
	return append(b, "\r\n"...)
}
