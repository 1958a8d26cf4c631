package contactapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/limits"
)

// A stage's per-tenant limits, end to end: GET /v1/me shows them; a contact
// create (POST /v1/contact, or a new subscriber on /v1/events) over the
// contact limit and a connection over the channel's limit are 422s that
// name the limit; updates of existing contacts still pass; the other
// tenant is not affected. Every answer is checked against the OpenAPI
// document by the stack.
func TestTenantLimits(t *testing.T) {
	s := stacktest.NewWith(t, stacktest.Options{Vars: map[string]string{
		limits.EnvContactsPerTenant: "2", limits.EnvConnectionsPerChannel: "1", limits.EnvDeliveriesPerSecond: "4",
	}})
	a, b := s.NewTenant("A", "messenger"), s.NewTenant("B", "messenger")
	r := s.Do("GET", "/v1/me", bearer(a), nil)
	mustStatus(t, r, 200)
	for k, v := range map[string]float64{"contacts_per_tenant": 2, "connections_per_channel": 1, "deliveries_per_second": 4} {
		if got := get(r.JSON, "data.limits."+k); got != v {
			t.Errorf("/v1/me limits.%s = %v, want %v", k, got, v)
		}
	}
	create := func(ten stacktest.Tenant, name string) stacktest.Response {
		return s.Do("POST", "/v1/contact", bearer(ten), map[string]any{"custom_fields": []map[string]string{{"name": "firstName", "value": name}}})
	}
	mustStatus(t, create(a, "one"), 200)
	mustStatus(t, s.Do("POST", "/v1/events", bearer(a), map[string]any{"psid": "4410020001", "field": "email", "value": "two@example.com"}), 200)
	over := []stacktest.Response{
		create(a, "three"),
		s.Do("POST", "/v1/events", bearer(a), map[string]any{"psid": "4410020002", "field": "email", "value": "three@example.com"}),
	}
	for i, r := range over {
		mustStatus(t, r, 422)
		if msg, _ := get(r.JSON, "message").(string); !strings.Contains(msg, "contacts_per_tenant") || !strings.Contains(msg, "2 contacts") {
			t.Errorf("over the contact limit (%d): message %q, want it to name contacts_per_tenant and 2", i, msg)
		}
	}
	// The contacts that exist still take writes.
	mustStatus(t, s.Do("POST", "/v1/events", bearer(a), map[string]any{"psid": "4410020001", "field": "lastName", "value": "Two"}), 200)
	mustStatus(t, create(b, "other tenant"), 200)

	conn := func(ten stacktest.Tenant, i int) stacktest.Response {
		return s.Do("POST", "/v1/connections", bearer(ten), map[string]any{"name": fmt.Sprint("c", i), "url": "http://127.0.0.1:9/hook", "triggers": []string{"email"}})
	}
	mustStatus(t, conn(a, 1), 201)
	r = conn(a, 2)
	mustStatus(t, r, 422)
	if msg, _ := get(r.JSON, "message").(string); !strings.Contains(msg, "connections_per_channel") {
		t.Errorf("over the connection limit: message %q, want it to name connections_per_channel", msg)
	}
	r = s.Do("POST", "/v1/hooks", bearer(a), map[string]any{"target_url": "http://127.0.0.1:9/zap", "event": "email"})
	mustStatus(t, r, 422)
	mustStatus(t, conn(b, 1), 201)
}
