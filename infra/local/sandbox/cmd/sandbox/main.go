// Command sandbox runs the WhatsApp provider sandbox on its own (`make
// sandbox`); `make run` starts the same one in-process. Settings come
// from the environment (see sandbox.OptionsFromEnv): SANDBOX_PORT,
// SANDBOX_WEBHOOK_URL, SANDBOX_APP_SECRET, SANDBOX_TOKENS,
// SANDBOX_TEMPLATES and the fault shares SANDBOX_FAIL_429_PCT,
// SANDBOX_FAIL_500_PCT, SANDBOX_HANG_PCT, SANDBOX_HANG_MS,
// SANDBOX_RATE_PER_SECOND.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
)

func main() {
	opt, err := sandbox.OptionsFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(2)
	}
	port := sandbox.DefaultPort
	if v := os.Getenv(sandbox.EnvPort); v != "" {
		if port, err = strconv.Atoi(v); err != nil || port < 0 || port > 65535 {
			fmt.Fprintf(os.Stderr, "sandbox: %s=%q: want a port\n", sandbox.EnvPort, v)
			os.Exit(2)
		}
	}
	if opt.WebhookURL == "" {
		opt.WebhookURL = "http://127.0.0.1:8080" + sandbox.DefaultWebhookPath
	}
	srv, err := sandbox.Listen(fmt.Sprintf("127.0.0.1:%d", port), opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
	secret := "(none: webhooks unsigned)"
	if opt.AppSecret != "" {
		secret = "(from " + sandbox.EnvAppSecret + ")"
	}
	fmt.Printf("WhatsApp provider sandbox on %s (page at /, JSON at /_sandbox/messages)\n  webhooks to %s, signed %s\n  point the system at it: WHATSAPP_API_BASE_URL=%s\n",
		srv.URL, opt.WebhookURL, secret, srv.URL)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	srv.Close()
}
