// Package webhook signs outgoing webhooks the Standard Webhooks way
// (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp
// and webhook-signature, the signature being
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)) for
// each current secret, space-separated. Verify checks a delivery as a
// receiver would.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names and fixed values of a delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	UserAgent       = "ChatBackend-Webhooks/1.0 (+https://github.com/startmsg/chatbackend)"
	// SecretPrefix starts every secret.
	SecretPrefix = "whsec_"
)

// Key sizes the specification allows, in bytes; NewSecret makes 32.
const (
	minKey    = 24
	maxKey    = 64
	secretKey = 32
)

// Errors Sign and Verify report (wrapped).
var (
	ErrNoSecret          = errors.New("webhook: no signing secret")
	ErrInvalidSecret     = errors.New("webhook: invalid secret")
	ErrInvalidTimestamp  = errors.New("webhook: invalid timestamp")
	ErrTimestampOutside  = errors.New("webhook: timestamp outside tolerance")
	ErrNoMatch           = errors.New("webhook: no matching signature")
	ErrMissingHeaderData = errors.New("webhook: missing id or signature")
)

// NewSecret returns a new random secret: "whsec_" + base64 of 32 bytes.
func NewSecret() string {
	key := make([]byte, secretKey)
	_, _ = rand.Read(key) // never fails (crypto/rand, Go ≥ 1.24)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// decodeSecret returns the HMAC key of a "whsec_..." secret.
func decodeSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSecret, err)
	}
	if len(key) < minKey || len(key) > maxKey {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d–%d", ErrInvalidSecret, len(key), minKey, maxKey)
	}
	return key, nil
}

// mac is HMAC-SHA256(key, id.timestamp.body).
func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature header value for body sent as message
// id at timestamp (whole seconds): one "v1,<base64>" per secret,
// space-separated, so receivers holding either side of a rotation accept it.
func Sign(secrets []string, id string, timestamp time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", ErrNoSecret
	}
	ts := strconv.FormatInt(timestamp.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i, err)
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, ts, body)))
	}
	return strings.Join(sigs, " "), nil
}

// Verify checks a delivery as a receiver holding secret would: the
// timestamp header (unix seconds) must be within tolerance of now, either
// way, and one of the v1 signatures in signatureHeader must match
// (compared in constant time). Other versions are ignored.
func Verify(secret, id, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	if id == "" || signatureHeader == "" {
		return ErrMissingHeaderData
	}
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTimestamp, err)
	}
	if strconv.FormatInt(ts, 10) != timestampHeader {
		return fmt.Errorf("%w: %q is not plain unix seconds", ErrInvalidTimestamp, timestampHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrTimestampOutside, d.Round(time.Second))
	}
	want := mac(key, id, timestampHeader, body)
	for _, part := range strings.Fields(signatureHeader) {
		enc, ok := strings.CutPrefix(part, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatch
}

// Headers returns the headers of one attempt: webhook-id,
// webhook-timestamp (unix seconds), webhook-signature, Content-Type
// application/json and the User-Agent.
func Headers(id string, ts time.Time, signature string) http.Header {
	h := make(http.Header, 5)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, signature)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	return h
}
