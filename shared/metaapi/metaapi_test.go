package metaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

type fakeTenancy struct{}

func (fakeTenancy) GetTenant(_ context.Context, id string) (tenancy.Tenant, error) {
	return tenancy.Tenant{ID: id, Name: "Acme"}, nil
}
func (fakeTenancy) GetChannel(_ context.Context, tenantID, channelID string) (tenancy.Channel, error) {
	return tenancy.Channel{ID: channelID, TenantID: tenantID}, nil
}

// GET /v1/me shows the stage's per-tenant limits.
func TestMeShowsLimits(t *testing.T) {
	lim := limits.Limits{ContactsPerTenant: 7, ConnectionsPerChannel: 3, DeliveriesPerSecond: 2}
	h := httpapi.HandlerFunc((&me{store: fakeTenancy{}, limits: lim}).serve)
	r := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	r = r.WithContext(httpapi.WithPrincipal(r.Context(), httpapi.Principal{TenantID: "ten_1", ChannelID: "ch_1"}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out struct {
		Data struct {
			Limits map[string]int64 `json:"limits"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	want := map[string]int64{"contacts_per_tenant": 7, "connections_per_channel": 3, "deliveries_per_second": 2}
	for k, v := range want {
		if out.Data.Limits[k] != v {
			t.Errorf("limits.%s = %d, want %d (%s)", k, out.Data.Limits[k], v, w.Body)
		}
	}
}
