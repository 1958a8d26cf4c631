package sandbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// Environment variables the sandbox reads (its command and `make run`).
const (
	EnvPort            = "SANDBOX_PORT"                // default 8090
	EnvWebhookURL      = "SANDBOX_WEBHOOK_URL"         // default <API>/v1/webhooks/whatsapp under make run
	EnvAppSecret       = "SANDBOX_APP_SECRET"          // signs the webhooks
	EnvTokens          = "SANDBOX_TOKENS"              // comma-separated accepted access tokens (default: any)
	EnvTemplates       = "SANDBOX_TEMPLATES"           // approved from the start: name:language[:body];...
	EnvFail429         = "SANDBOX_FAIL_429_PCT"        // % of sends answered 429 (130429)
	EnvFail500         = "SANDBOX_FAIL_500_PCT"        // % answered 500 (131000)
	EnvHang            = "SANDBOX_HANG_PCT"            // % left without an answer
	EnvHangMS          = "SANDBOX_HANG_MS"             // for this long (default 30000)
	EnvRate            = "SANDBOX_RATE_PER_SECOND"     // sends per second and phone number before 130429 (0: no limit)
	EnvAsyncWindow     = "SANDBOX_ASYNC_WINDOW_ERRORS" // 131047 as a failed status webhook after acceptance
	EnvOutOfOrder      = "SANDBOX_OUT_OF_ORDER"        // statuses posted last first
	EnvDuplicate       = "SANDBOX_DUPLICATE_WEBHOOKS"  // every status webhook posted twice
	EnvStatusDelayMS   = "SANDBOX_STATUS_DELAY_MS"     // between a message's status webhooks (default 20)
	EnvWABAID          = "SANDBOX_WABA_ID"
	DefaultPort        = 8090
	DefaultWebhookPath = "/v1/webhooks/whatsapp"
)

// OptionsFromEnv reads the sandbox's settings from the environment.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{WebhookURL: getenv(EnvWebhookURL), AppSecret: getenv(EnvAppSecret), WABAID: getenv(EnvWABAID)}
	for _, t := range strings.Split(getenv(EnvTokens), ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.Tokens = append(o.Tokens, t)
		}
	}
	num := func(name string, dst *float64) error {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%s=%q: want a number", name, v)
		}
		*dst = f
		return nil
	}
	var hangMS, rate, delay float64
	for _, n := range []struct {
		name string
		dst  *float64
	}{{EnvFail429, &o.Faults.Fail429Pct}, {EnvFail500, &o.Faults.Fail500Pct}, {EnvHang, &o.Faults.HangPct},
		{EnvHangMS, &hangMS}, {EnvRate, &rate}, {EnvStatusDelayMS, &delay}} {
		if err := num(n.name, n.dst); err != nil {
			return o, err
		}
	}
	o.Faults.HangFor = time.Duration(hangMS) * time.Millisecond
	o.Faults.RatePerSecond = int(rate)
	o.StatusDelay = time.Duration(delay) * time.Millisecond
	for _, b := range []struct {
		name string
		dst  *bool
	}{{EnvAsyncWindow, &o.AsyncWindowErrors}, {EnvOutOfOrder, &o.Faults.OutOfOrderStatuses}, {EnvDuplicate, &o.Faults.DuplicateWebhooks}} {
		switch v := strings.TrimSpace(getenv(b.name)); v {
		case "", "0", "false":
		case "1", "true":
			*b.dst = true
		default:
			return o, fmt.Errorf("%s=%q: want true or false", b.name, v)
		}
	}
	for _, spec := range strings.Split(getenv(EnvTemplates), ";") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) < 2 {
			return o, fmt.Errorf("%s: %q: want name:language[:body]", EnvTemplates, spec)
		}
		body := "Hello from the provider sandbox."
		if len(parts) == 3 && parts[2] != "" {
			body = parts[2]
		}
		o.Templates = append(o.Templates, Template{Name: parts[0], Language: parts[1], Category: "UTILITY",
			Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: body}}})
	}
	if err := o.Faults.normalize(); err != nil {
		return o, err
	}
	return o, nil
}
