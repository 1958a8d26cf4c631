// Package apperr is the project's one error vocabulary. Domain packages,
// stores and handlers return these errors; httpapi alone maps a Kind to an
// HTTP status and renders the message in the error envelope. Every error
// carries the sentence a client reads, so no one parses error strings.
package apperr

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is what went wrong, independent of any transport.
type Kind uint8

// The kinds. The zero Kind is not an apperr: an internal failure.
const (
	KindInternal    Kind = iota
	KindInvalid          // an input is malformed or out of range (names the field)
	KindRejected         // an input is well-formed but refused by policy (names the field)
	KindForbidden        // the caller's credential may not do this
	KindNotFound         // the thing addressed does not exist (or is not the caller's)
	KindExists           // a create collides with something that exists
	KindConflict         // a concurrent change got there first; retrying may succeed
	KindTooLarge         // the input is over a size limit
	KindUnavailable      // a dependency cannot answer now; retrying later may succeed
)

var kindNames = [...]string{"internal", "invalid", "rejected", "forbidden", "not found", "exists", "conflict", "too large", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is a failure a client is told about.
type Error struct {
	Kind    Kind
	Field   string // KindInvalid and KindRejected: the input at fault
	Problem string // KindInvalid and KindRejected: what is wrong with it
	Message string // the full sentence a client reads
	Err     error  // the cause, for logs and errors.Is; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + " (" + e.Err.Error() + ")"
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap returns a copy of e with cause attached.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// KindOf is err's Kind: the first *Error in its chain, KindInternal if none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func trimDot(s string) string { return strings.TrimSuffix(strings.TrimSpace(s), ".") }

// NotFound is a missing thing: NotFound("Contact field", "7") reads
// `Contact field "7" not found.`; an empty id leaves it out.
func NotFound(what, id string) *Error {
	if id == "" {
		return &Error{Kind: KindNotFound, Message: what + " not found."}
	}
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s %q not found.", what, id)}
}

// Invalid names a bad input: Invalid("name", "is required") reads
// "name: is required.".
func Invalid(field, problem string) *Error {
	p := trimDot(problem)
	return &Error{Kind: KindInvalid, Field: field, Problem: p, Message: field + ": " + p + "."}
}

// Invalidf is Invalid with a formatted problem.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(field, fmt.Sprintf(format, args...))
}

// BadRequest is an invalid request that no single field is to blame for;
// the message is the whole sentence, as given.
func BadRequest(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...)}
}

// Rejected is a well-formed input that policy refuses (a webhook URL that
// points into a private network): "url: <problem>.".
func Rejected(field, problem string) *Error {
	p := trimDot(problem)
	return &Error{Kind: KindRejected, Field: field, Problem: p, Message: field + ": " + p + "."}
}

// Exists is a create that collides; the message is the whole sentence.
func Exists(format string, args ...any) *Error {
	return &Error{Kind: KindExists, Message: fmt.Sprintf(format, args...)}
}

// Conflict is a concurrent change to what ("contact", "connection"...):
// "The contact was changed by another request at the same time; retry.".
func Conflict(what string) *Error {
	return &Error{Kind: KindConflict, Message: "The " + what + " was changed by another request at the same time; retry."}
}

// TooLarge is an input over a limit; the message is the whole sentence.
func TooLarge(format string, args ...any) *Error {
	return &Error{Kind: KindTooLarge, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is a dependency that cannot answer now.
func Unavailable(format string, args ...any) *Error {
	return &Error{Kind: KindUnavailable, Message: fmt.Sprintf(format, args...)}
}

// Forbidden is a credential that may not do this; the message is the
// whole sentence, as given.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Message: fmt.Sprintf(format, args...)}
}

// New is an error of kind k whose message is the whole sentence, as given.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}
