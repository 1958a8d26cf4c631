package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

const (
	// TTL is how long an answer is replayed.
	TTL = 24 * time.Hour
	// Lease is how long a request may run before a retry may take over its
	// key (longer than any function's timeout).
	Lease = time.Minute
	// MaxKeyLength bounds the key.
	MaxKeyLength = 255
)

// Middleware answers a repeated request (same caller, route and key) with
// the first answer. Requests without the header pass through. Answers of
// 5xx are not kept: the retry runs again.
func Middleware(store Store, route string, now func() time.Time, next http.Handler) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get(Header)
		if key == "" {
			next.ServeHTTP(w, r)
			return nil
		}
		if len(key) > MaxKeyLength || !printable(key) {
			return apperr.BadRequest("%s must be 1 to %d printable ASCII characters.", Header, MaxKeyLength)
		}
		body, err := httpapi.ReadBody(r)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(append([]byte(r.Method+" "+route+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		p := httpapi.CallerOf(r)
		scope := p.TenantID + "#" + p.CredentialID + "#" + route
		t := now()
		claim := Record{RequestHash: hash, LeaseUntil: t.Add(Lease).Unix(), Expires: t.Add(TTL).Unix()}
		held, claimed, err := store.Claim(r.Context(), scope, key, claim, t)
		if err != nil {
			return err
		}
		if !claimed {
			return replay(w, held, hash)
		}
		rec := &recorder{header: http.Header{}}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rec, r)
		if rec.status >= 500 {
			if err := store.Release(r.Context(), scope, key); err != nil {
				slog.ErrorContext(r.Context(), "release idempotency key", "err", err)
			}
		} else {
			done := Record{RequestHash: hash, Done: true, Status: rec.status, Body: rec.body.Bytes(), Expires: claim.Expires}
			if err := store.Complete(r.Context(), scope, key, done); err != nil {
				// The work is done; a retry will see the pending claim (409)
				// until the lease ends, then run again.
				slog.ErrorContext(r.Context(), "complete idempotency key", "err", err)
			}
		}
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		return nil
	})
}

func replay(w http.ResponseWriter, held Record, hash string) error {
	switch {
	case held.RequestHash != hash:
		return apperr.New(apperr.KindRejected, "This %s was already used with a different request body.", Header)
	case !held.Done:
		return &httpapi.Error{Status: http.StatusConflict, Message: "A request with this " + Header + " is still being processed; retry later.",
			Header: http.Header{"Retry-After": {strconv.Itoa(int(Lease.Seconds()))}}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(held.Status)
	_, _ = w.Write(held.Body)
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
