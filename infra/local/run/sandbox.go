package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// Keys of demo.env and of this process's environment that name the
// WhatsApp provider sandbox: its URL and the app secret that signs its
// webhooks (the demo WhatsApp channel's app secret must be the same).
const (
	SandboxURLKey    = "WHATSAPP_SANDBOX_URL"
	SandboxSecretKey = "WHATSAPP_APP_SECRET"
	// SandboxSecretEnv carries the secret to the seeding code of this
	// process.
	SandboxSecretEnv = "WHATSAPP_SANDBOX_APP_SECRET"
)

// userBaseURL is a Cloud API named before make run started: kept.
var userBaseURL = os.Getenv(whatsapp.EnvBaseURL)

// startSandbox starts the provider sandbox on port (0: any free one),
// posting its webhooks to the local API, and points the functions at it
// (WHATSAPP_API_BASE_URL) unless that is set already. Its app secret is
// SANDBOX_APP_SECRET, else the one demo.env keeps, else a new one.
func startSandbox(port int, apiURL, demoEnv string) (*sandbox.Server, error) {
	opt, err := sandbox.OptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	// The demo channel's approved template is approved at the sandbox
	// too, so the seed's own sendTemplate request is sent.
	opt.Templates = append(opt.Templates, sandbox.Template{Name: demoTemplate, Language: demoTemplateLanguage, Category: "UTILITY",
		Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: demoTemplateText}}},
		// and so is the sample WhatsApp channel's (events.Seed), which the
		// sample events send.
		sandbox.Template{Name: appevents.SampleWATemplate, Language: "en", Category: "UTILITY",
			Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: appevents.SampleWATemplateText}}})
	if opt.WebhookURL == "" {
		opt.WebhookURL = apiURL + sandbox.DefaultWebhookPath
	}
	if opt.AppSecret == "" {
		if env, err := readEnv(demoEnv); err == nil && env[SandboxSecretKey] != "" {
			opt.AppSecret = env[SandboxSecretKey]
		} else {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			opt.AppSecret = hex.EncodeToString(b)
		}
	}
	srv, err := sandbox.Listen(fmt.Sprintf("127.0.0.1:%d", port), opt)
	if err != nil {
		return nil, err
	}
	if userBaseURL == "" {
		os.Setenv(whatsapp.EnvBaseURL, srv.URL)
	}
	os.Setenv(SandboxURLKey, srv.URL)
	os.Setenv(SandboxSecretEnv, opt.AppSecret)
	return srv, nil
}

// recordSandbox adds the sandbox's URL, and its app secret when the
// seeding has not set one, to demo.env.
func recordSandbox(path string, demo map[string]string, srv *sandbox.Server) error {
	demo[SandboxURLKey] = srv.URL
	demo[TwilioSandboxURLKey] = srv.URL
	if demo[SandboxSecretKey] == "" {
		demo[SandboxSecretKey] = os.Getenv(SandboxSecretEnv)
	}
	return writeEnv(path, demo)
}

// sandboxBanner is the banner's line about the sandbox.
func sandboxBanner(w io.Writer, srv *sandbox.Server) {
	fmt.Fprintf(w, "  WhatsApp       %s   (provider sandbox: what it sent at /, faults at /_sandbox/faults; %s, %s in demo.env)\n\n",
		srv.URL, SandboxURLKey, SandboxSecretKey)
}
