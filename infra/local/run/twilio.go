package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// Keys of demo.env for the demo sms and voice channels (CHANNEL_SMS,
// CHANNEL_VOICE): their Twilio account (made up here; the provider
// sandbox takes any AC… SID with a 32-hex token), the number they send
// from, a number to send to and where the sandbox shows what it got.
const (
	TwilioSIDKey        = "TWILIO_ACCOUNT_SID"
	TwilioFromKey       = "TWILIO_FROM"
	DemoNumberKey       = "DEMO_NUMBER"
	TwilioSandboxURLKey = "TWILIO_SANDBOX_URL"
	// demoTwilioFrom is Twilio's own test number; demoNumber a mobile
	// number (seed 003's own example).
	demoTwilioFrom = "+15005550006"
	demoNumber     = "+526643596440"
)

// userTwilioURL is a Twilio API named before make run started: kept.
var userTwilioURL = os.Getenv(messaging.EnvTwilioBaseURL)

// pointTwilio points the sender's Twilio provider at the provider sandbox
// (TWILIO_API_BASE_URL) and has every SMS and call ask for status
// callbacks at the local API's twilio-status route
// (TWILIO_STATUS_CALLBACK_URL), unless either was set before make run
// started: the sandbox posts them, signed with the channel's auth token,
// to the URL the function checks the signature over.
func pointTwilio(sandboxURL, apiURL string) {
	if userTwilioURL == "" {
		os.Setenv(messaging.EnvTwilioBaseURL, sandboxURL)
	}
	if os.Getenv(appenv.TwilioStatusCallbackURL) == "" {
		os.Setenv(appenv.TwilioStatusCallbackURL, apiURL+"/v1/webhooks/twilio")
	}
}

// seedTwilio gives the demo sms and voice channels Twilio credentials
// pointed at the sandbox, once (one made-up account for both, sending
// from demoTwilioFrom): demo.env gains TWILIO_ACCOUNT_SID, TWILIO_FROM and
// DEMO_NUMBER. It reports whether env changed.
func seedTwilio(ctx context.Context, d *wiring.Env, env map[string]string) (bool, error) {
	tenant := env["TENANT_ID"]
	channels := []string{env["CHANNEL_SMS"], env["CHANNEL_VOICE"]}
	if tenant == "" || channels[0] == "" || channels[1] == "" {
		return false, nil
	}
	store := d.Tenancy()
	set := env[TwilioSIDKey] != ""
	for _, ch := range channels {
		if _, err := store.TwilioCredentials(ctx, tenant, ch); apperr.Is(err, apperr.KindNotFound) {
			set = false
		} else if err != nil {
			return false, err
		}
	}
	changed := env[DemoNumberKey] != demoNumber
	env[DemoNumberKey] = demoNumber
	if set {
		return changed, nil
	}
	in := tenancy.TwilioInput{AccountSID: "AC" + randHex(16), AuthToken: randHex(16), From: demoTwilioFrom}
	svc := &tenancy.Service{Store: store, Now: time.Now}
	for _, ch := range channels {
		if _, err := svc.SetTwilio(ctx, store, tenant, ch, in); err != nil {
			return false, fmt.Errorf("set the demo %s channel's Twilio credentials: %w", ch, err)
		}
	}
	env[TwilioSIDKey] = in.AccountSID
	env[TwilioFromKey] = in.From
	return true, nil
}
