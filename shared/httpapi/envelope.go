// Package httpapi is the HTTP plumbing every API function shares: the error
// envelope, JSON decoding with limits, the caller's identity, rate-limit
// headers and the per-request middleware. Handlers are plain net/http; Lambda
// types appear only in package lambdaapp.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Error is an HTTP-level answer that has no domain meaning: 401, 403, 405,
// 429 and the idempotency replies, with their headers. Domain and input
// failures are *apperr.Error values, mapped by StatusOf; WriteError renders
// both in the envelope.
type Error struct {
	Status  int
	Message string
	Header  http.Header // extra response headers (Retry-After, Allow, ...)
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Messages the product documents fix verbatim.
const (
	MsgInvalidToken     = "API Token is invalid."
	MsgTooManyRequests  = "Too many requests"
	MsgMethodNotAllowed = "405 Method Not Allowed."
	MsgNotFound         = "Not found."
	MsgInternal         = "Internal server error."
)

// Common errors.
var (
	ErrInvalidToken = &Error{Status: http.StatusUnauthorized, Message: MsgInvalidToken}
	ErrNotFound     = &Error{Status: http.StatusNotFound, Message: MsgNotFound}
)

// envelope is the shape of every error, and of success answers that carry
// only a message (the seed's tag answers).
type envelope struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    []any  `json:"data"`
}

// ErrorBody returns the envelope JSON for an error message.
func ErrorBody(message string) []byte {
	b, _ := json.Marshal(envelope{Status: "error", Message: message, Data: []any{}})
	return b
}

// WriteJSON writes v as JSON with the given status. URLs keep their "&"
// (no HTML escaping: this is an API, not a page).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := buf.Bytes()
	if err := enc.Encode(v); err != nil {
		slog.Error("encode response", "err", err)
		status, b = http.StatusInternalServerError, ErrorBody(MsgInternal)
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteSuccess writes {"status":"success","message":msg,"data":[]}.
func WriteSuccess(w http.ResponseWriter, message string) {
	WriteJSON(w, http.StatusOK, envelope{Status: "success", Message: message, Data: []any{}})
}

// StatusOf is the HTTP status of an apperr kind: the one place the
// project's error vocabulary meets HTTP.
func StatusOf(k apperr.Kind) int {
	switch k {
	case apperr.KindInvalid:
		return http.StatusBadRequest
	case apperr.KindRejected:
		return http.StatusUnprocessableEntity
	case apperr.KindForbidden:
		return http.StatusForbidden
	case apperr.KindNotFound:
		return http.StatusNotFound
	case apperr.KindExists, apperr.KindConflict:
		return http.StatusConflict
	case apperr.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// AsHTTP is the answer err gets: an *Error as it is, an *apperr.Error with
// its kind's status and its message, and anything else a 500 without
// detail (ok false: the caller logs it).
func AsHTTP(err error) (e *Error, ok bool) {
	if errors.As(err, &e) {
		return e, true
	}
	if ae, isApp := apperr.As(err); isApp && ae.Kind != apperr.KindInternal {
		return &Error{Status: StatusOf(ae.Kind), Message: ae.Message}, true
	}
	return &Error{Status: http.StatusInternalServerError, Message: MsgInternal}, false
}

// WriteError renders err in the envelope (see AsHTTP); an error that is
// neither an *Error nor an *apperr.Error is logged and answered 500.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := AsHTTP(err)
	if !ok {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(ErrorBody(e.Message))
}

// HandlerFunc is an http handler that returns its failure instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP runs f and renders a returned error in the envelope.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteData writes {"data": v}, the shape of every success answer that is
// not a bare message.
func WriteData(w http.ResponseWriter, status int, v any) {
	if a, ok := v.(JSONAppender); ok {
		b := append(make([]byte, 0, 1024), `{"data":`...)
		b = append(a.AppendJSON(b), '}')
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return
	}
	WriteJSON(w, status, map[string]any{"data": v})
}

// JSONAppender is a value that appends its own JSON: byte for byte what
// encoding/json writes for it without HTML escaping (WriteData then skips
// encoding/json's reflection).
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}
