package main

import (
	"os"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// pointTwilio points the sender's Twilio provider at the provider sandbox
// (TWILIO_API_BASE_URL) and has every SMS and call ask for status
// callbacks at the local API's twilio-status route
// (TWILIO_STATUS_CALLBACK_URL), unless either is set already: the sandbox
// posts them, signed with the channel's auth token, to the URL the
// function checks the signature over.
func pointTwilio(sandboxURL, apiURL string) {
	if os.Getenv(messaging.EnvTwilioBaseURL) == "" {
		os.Setenv(messaging.EnvTwilioBaseURL, sandboxURL)
	}
	if os.Getenv(appenv.TwilioStatusCallbackURL) == "" {
		os.Setenv(appenv.TwilioStatusCallbackURL, apiURL+"/v1/webhooks/twilio")
	}
}
