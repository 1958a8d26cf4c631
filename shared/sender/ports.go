package sender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Provider sends one message through a messaging provider's API (the
// WhatsApp Cloud API, ...) and returns the provider's id of it (WhatsApp's
// wamid). A refusal is an error: a *Error says whether to retry and
// carries the provider's code and text; any other error (a network error,
// the call's deadline) is retried.
type Provider interface {
	Send(ctx context.Context, creds Credentials, m messages.Message) (providerID string, err error)
}

// Credentials are a channel's provider credentials, as the credentials
// port reads them (decrypted).
type Credentials struct {
	// AccessToken authenticates the calls (WhatsApp: the system user's
	// access token; Twilio: the account's auth token).
	AccessToken string
	// AccountID is the sending account at the provider (WhatsApp: the
	// phone number id; Twilio: the account SID).
	AccountID string
	// BaseURL overrides the provider's API base URL ("" for the
	// provider's own): the local sandbox, tests.
	BaseURL string
	// From is the sender at the provider where the account has several
	// (Twilio: the number, E.164, or a messaging service's SID, MG…).
	From string
}

// CredentialStore reads a channel's provider credentials: apperr not found
// when the channel has none.
type CredentialStore interface {
	ProviderCredentials(ctx context.Context, tenantID, channelID string) (Credentials, error)
}

// NoCredentials is the CredentialStore of a stage where no channel has
// provider credentials: every message fails with CodeNoCredentials.
type NoCredentials struct{}

// ProviderCredentials answers not found.
func (NoCredentials) ProviderCredentials(_ context.Context, _, channelID string) (Credentials, error) {
	return Credentials{}, apperr.NotFound("Provider credentials of channel", channelID)
}

// StaticCredentials gives every channel the same credentials (tests).
type StaticCredentials Credentials

// ProviderCredentials answers the credentials.
func (s StaticCredentials) ProviderCredentials(context.Context, string, string) (Credentials, error) {
	return Credentials(s), nil
}

// Error is a provider's refusal of a message.
type Error struct {
	// Retryable is true for a refusal that may pass later: a timeout, 429
	// or 5xx. False: the provider refused the message for good (a 4xx),
	// and it is recorded failed.
	Retryable bool
	// HTTPStatus is the provider's HTTP status (0: no answer).
	HTTPStatus int
	// Code and Message are the provider's error code and text (WhatsApp's
	// error.code and error.message: 131047, "Re-engagement message").
	Code, Message string
	// RetryAfter is the provider's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("provider answered %d: %s %s", e.HTTPStatus, e.Code, e.Message)
}

// Classified is what a provider client's own error type can implement
// instead of being a *Error (the WhatsApp client's errors): the sender
// asks it whether to retry and for the provider's code and text.
type Classified interface {
	error
	Retryable() bool
	ProviderCode() string
	ProviderMessage() string
}

// classify turns a provider's error into a *Error: a *Error as it is, a
// Classified by its answers, anything else (no answer) retryable.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var c Classified
	if errors.As(err, &c) {
		return &Error{Retryable: c.Retryable(), Code: c.ProviderCode(), Message: c.ProviderMessage()}
	}
	code := CodeNoAnswer
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeTimeout
	}
	return &Error{Retryable: true, Code: code, Message: err.Error()}
}

// Codes of failures the sender records itself (not the provider's).
const (
	CodeNoProvider    = "no_provider"    // no provider for the channel's kind on this stage
	CodeNoCredentials = "no_credentials" // the channel has no provider credentials
	CodeTimeout       = "timeout"        // the provider did not answer in time
	CodeNoAnswer      = "no_answer"      // the call failed before an answer (connection, DNS)
	CodeExhausted     = "attempts_exhausted"
)
