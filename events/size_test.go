package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The whatsapp-receive function, fed an API Gateway proxy event whose body
// is over 256 KB (API Gateway passes up to 10 MB on; Lambda takes events
// up to 6 MB), answers 413 in the envelope, as a function answer (not a
// handler error, which API Gateway would turn into a 502).
func TestWhatsAppWebhookOverLimit(t *testing.T) {
	d, _ := deps(t)
	start, fn, builder, phone := mainCall(t, "whatsapp-receive")
	pkg := builder[:max(strings.LastIndex(builder, "."), 0)]
	if start != "StartAPI" || fn != "whatsapp-receive" || registry.Packages[pkg][fn] == nil {
		t.Fatalf("functions/whatsapp-receive/main.go calls %s(%q, %s)", start, fn, builder)
	}
	builders := wiring.Builders{fn: registry.Packages[pkg][fn]}
	if phone {
		builders = wiring.Builders{fn: registry.WithPhone(builders[fn])}
	}
	h, err := wiring.APIHandler(d, fn, builders)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{httpapi.MaxBodyBytes + 1, 5 << 20} {
		body := `{"object":"whatsapp_business_account","entry":[]}`
		body += strings.Repeat(" ", n-len(body))
		ev := events.APIGatewayProxyRequest{Resource: "/v1/webhooks/whatsapp", Path: "/v1/webhooks/whatsapp", HTTPMethod: "POST", Body: body,
			Headers:           map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)},
			MultiValueHeaders: map[string][]string{"Content-Type": {"application/json"}, "X-Hub-Signature-256": {"sha256=" + strings.Repeat("0", 64)}},
			RequestContext:    events.APIGatewayProxyRequestContext{Stage: "prod", ResourcePath: "/v1/webhooks/whatsapp", HTTPMethod: "POST", Path: "/prod/v1/webhooks/whatsapp"}}
		raw, _ := json.Marshal(ev)
		out, err := lambda.NewHandler(h).Invoke(context.Background(), raw)
		if err != nil {
			t.Fatalf("%d bytes: handler error (API Gateway would answer 502): %v", n, err)
		}
		checkAPIAnswer(t, "", 413, out)
	}
}
