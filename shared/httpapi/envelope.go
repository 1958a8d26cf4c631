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
	"strings"
)

// Error is a client-facing failure: an HTTP status and a message that names
// what was wrong. Handlers return it; WriteError renders it in the envelope.
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

// WriteError renders err in the envelope. An *Error keeps its status and
// message; anything else is logged and answered 500 without detail.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Message: MsgInternal}
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
	WriteJSON(w, status, map[string]any{"data": v})
}

// Wording is how a domain error that wraps sentinel reads to a client: the
// words before the sentinel's own, capitalised (`contact "42": not found`
// reads `Contact "42"`).
func Wording(err, sentinel error) string {
	s := strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
	if s == "" || s == err.Error() {
		return "Item"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
