// Package messaging is the composition root of the messaging functions:
// the WhatsApp Cloud API, the sender's providers and the message core's
// adapters behind the ports of the handler packages that send, submit or
// take messages (chatapi, messageapi, templateapi, sender, the WhatsApp
// intake). Only those functions import it; every other function builds
// the plain wiring.Env and links none of this (nor the WhatsApp client,
// the sender or the SQS client the sender brings).
//
// Its Env is a wiring.Env with these ports added: a messaging function's
// main calls StartAPI, StartStream or StartQueue from here instead of
// wiring's, with the same options.
package messaging

import (
	"fmt"
	"net/http"

	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// Env is a wiring.Env with the messaging ports.
type Env struct {
	*wiring.Env
	Overrides
}

// Overrides take the place of the messaging adapters: tests and the local
// stack set them on the wiring.Env (its Messaging field) the handlers are
// built from. A nil field keeps the real adapter.
type Overrides struct {
	// WAMessages and WATemplates take what the WhatsApp intake records:
	// the message store and the template registry.
	WAMessages  wahook.MessageStore
	WATemplates wahook.TemplateStatuses
	// Providers send messages, by channel kind, and Credentials read the
	// channels' provider credentials: the sender's ports (messages.go).
	Providers   map[string]sender.Provider
	Credentials sender.CredentialStore
}

// Of is e with the messaging ports, and the overrides set on it
// (e.Messaging, a *Overrides) if any.
func Of(e *wiring.Env) *Env {
	m := &Env{Env: e}
	if o, ok := e.Messaging.(*Overrides); ok && o != nil {
		m.Overrides = *o
	}
	return m
}

// Override sets the overrides the messaging handlers built from e use.
func Override(e *wiring.Env, o Overrides) { e.Messaging = &o }

// WhatsAppMessages is the message store the WhatsApp intake records
// inbound messages and statuses in.
func (e *Env) WhatsAppMessages() wahook.MessageStore {
	if e.WAMessages != nil {
		return e.WAMessages
	}
	return waMessages{e}
}

// WhatsAppTemplates takes WhatsApp template status updates.
func (e *Env) WhatsAppTemplates() wahook.TemplateStatuses {
	if e.WATemplates != nil {
		return e.WATemplates
	}
	return waTemplateStatuses{e}
}

// Route adapts a messaging handler builder, which takes its package's
// Ports interface P, to a wiring.Builder: *Env must satisfy P (registry's
// tests check every one).
func Route[P any](build func(P) http.Handler) wiring.Builder {
	return func(e *wiring.Env) http.Handler { return build(ports[P](Of(e))) }
}

// Stream adapts a messaging stream consumer's builder to the wiring.Env.
func Stream[P any](build func(P) lambdaapp.StreamHandler) func(*wiring.Env) lambdaapp.StreamHandler {
	return func(e *wiring.Env) lambdaapp.StreamHandler { return build(ports[P](Of(e))) }
}

// Queue adapts a messaging queue consumer's builder to the wiring.Env.
func Queue[P any](build func(P) lambdaapp.QueueHandler) func(*wiring.Env) lambdaapp.QueueHandler {
	return func(e *wiring.Env) lambdaapp.QueueHandler { return build(ports[P](Of(e))) }
}

// StartAPI is wiring.StartAPI for a messaging route.
func StartAPI[P any](name string, build func(P) http.Handler, opts ...wiring.Option) {
	wiring.StartRoute(name, Route(build), opts...)
}

// StartStream is wiring.StartStream for a messaging stream consumer.
func StartStream[P any](build func(P) lambdaapp.StreamHandler, opts ...wiring.Option) {
	wiring.StartStreamWith(Stream(build), opts...)
}

// StartQueue is wiring.StartQueue for a messaging queue consumer.
func StartQueue[P any](build func(P) lambdaapp.QueueHandler) {
	wiring.StartQueueWith(Queue(build))
}

// ports is e as the port interface P.
func ports[P any](e *Env) P {
	p, ok := any(e).(P)
	if !ok {
		var zero P
		panic(fmt.Sprintf("messaging: *Env does not implement %T", &zero))
	}
	return p
}
