package main

import (
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/limits"
)

func TestReport(t *testing.T) {
	m, err := loadMeasured()
	if err != nil {
		t.Fatal(err)
	}
	in := input{Tenants: 10, Contacts: 1000, Events: 0.1, Reads: 0.1, Connections: 1, APIMs: 30, RouterMs: 50, WebhookMs: 300,
		ContactBytes: 2500, DispatcherConcurrency: 50, Limits: limits.Defaults()}
	var b strings.Builder
	report(&b, in, m)
	out := b.String()
	for _, want := range []string{"| API requests (API Gateway REST) | 2 |", "DynamoDB write request units", "**total**", "Lambda concurrency"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// 2 API requests/s of 100: nothing is over.
	if strings.Contains(out, "**over**") {
		t.Errorf("a light load is over a limit:\n%s", out)
	}
	// Ten times the stage throttle: it binds first, and says how to raise it.
	in.Tenants, in.Events, in.Reads = 1000, 0.5, 0.5
	b.Reset()
	report(&b, in, m)
	lines := strings.Split(b.String(), "\n")
	var first string
	for i, l := range lines {
		if strings.HasPrefix(l, "| limit ") {
			first = lines[i+2]
		}
	}
	if !strings.Contains(first, "API Gateway stage throttle") || !strings.Contains(first, "**over**") || !strings.Contains(first, "infra/api.go") {
		t.Errorf("first limit row %q, want the stage throttle, over, with its setting", first)
	}
}
