// Package chatports declares what seed 002's chat-api routes (shared/chatapi)
// need from the rest of the system. It is small and imports no handler
// code, so the composition root (shared/wiring) can name these ports
// without linking the handlers into every function.
package chatports

import (
	"context"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
)

// TemplateLookup finds the template a send names and checks it may be sent
// (templates.Service.Lookup): not found (apperr.KindNotFound), not
// approved (apperr.KindRejected).
type TemplateLookup interface {
	Lookup(ctx context.Context, tenantID, channelID, name, namespace, language string) (templates.Template, error)
}

// Sender queues an outbound message (the message core's outbox): it stores
// m as queued and answers its ID. The same idempotency key ("" for none)
// and message give the first answer again.
type Sender interface {
	Enqueue(ctx context.Context, m messages.Message, idempotencyKey string) (id string, err error)
}

// Window says when a contact (by E.164 phone) last wrote to the channel:
// the zero time when it never did.
type Window interface {
	LastInbound(ctx context.Context, tenantID, channelID, phone string) (time.Time, error)
}

// Instances tells a channel's numeric instance id ("" when it has none).
type Instances interface {
	InstanceOf(ctx context.Context, tenantID, channelID string) (string, error)
}

// Profile is a WhatsApp business profile.
type Profile struct {
	About       string   `json:"about"`
	Address     string   `json:"address"`
	Description string   `json:"description"`
	Email       string   `json:"email"`
	Vertical    string   `json:"vertical"`
	Websites    []string `json:"websites"`
}

// Profiles reads and changes the channel's WhatsApp business profile at
// the provider.
type Profiles interface {
	GetProfile(ctx context.Context, tenantID, channelID string) (Profile, error)
	// SetProfile sets the fields of u that are not empty (the others are
	// left as they are) and answers the profile as it is afterwards.
	SetProfile(ctx context.Context, tenantID, channelID string, u Profile) (Profile, error)
}
