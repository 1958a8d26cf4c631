package main

import (
	"os"
	"strings"

	"github.com/startmsg/chatbackend/shared/appenv"
)

// twilioBaseURLEnv is the sender's Twilio API base (messaging.EnvTwilioBaseURL;
// not imported: this command links no messaging adapter).
const twilioBaseURLEnv = "TWILIO_API_BASE_URL"

// twilioEnv points the sender's Twilio provider where make run points it:
// TWILIO_API_BASE_URL and TWILIO_STATUS_CALLBACK_URL as set here, else the
// provider sandbox demo.env names and the local API's twilio-status route
// (API_URL in demo.env); nothing of what neither says.
func twilioEnv(getenv func(string) string, demoEnv string) []string {
	demo := map[string]string{}
	if b, err := os.ReadFile(demoEnv); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				demo[k] = strings.Trim(v, `"'`)
			}
		}
	}
	var out []string
	base := getenv(twilioBaseURLEnv)
	if base == "" {
		base = demo[sandboxURLKey]
	}
	if base != "" {
		out = append(out, twilioBaseURLEnv+"="+base)
	}
	cb := getenv(appenv.TwilioStatusCallbackURL)
	if cb == "" && demo["API_URL"] != "" {
		cb = strings.TrimRight(demo["API_URL"], "/") + "/v1/webhooks/twilio"
	}
	if cb != "" {
		out = append(out, appenv.TwilioStatusCallbackURL+"="+cb)
	}
	return out
}
