package wiring

import "github.com/startmsg/chatbackend/shared/twhook"

// The ports of Twilio's status callbacks (function twilio-status): the
// channels' Twilio credentials, whose auth token signs the callbacks, and
// the message store that moves a message by its SID.

// TwilioLookup reads a channel's Twilio credentials.
func (e *Env) TwilioLookup() twhook.Lookup { return e.Tenancy() }

// TwilioMessages moves messages by Twilio's SID of them.
func (e *Env) TwilioMessages() twhook.MessageStore { return e.Messages() }
