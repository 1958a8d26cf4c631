package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

func TestMain(m *testing.M) { emulators.Main(m) }

const (
	twSID   = "AC0123456789abcdef0123456789abcdef"
	twToken = "fedcba9876543210fedcba9876543210"
)

// PUT /admin/tenants/{t}/channels/{c}/twilio sets an SMS or voice
// channel's Twilio credentials: checked, stored, answered with the
// channel's Twilio info and never with the auth token.
func TestAdminTwilioSet(t *testing.T) {
	s := stacktest.New(t)
	sms := s.NewTenant("Acme", "sms")
	path := "/admin/tenants/" + sms.ID + "/channels/" + sms.ChannelID + "/twilio"
	r := s.Admin("PUT", path, map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"})
	if r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.id") != sms.ChannelID || stacktest.Path(r.JSON, "data.twilio.account_sid") != twSID ||
		stacktest.Path(r.JSON, "data.twilio.from") != "+15005550006" || stacktest.Path(r.JSON, "data.twilio.configured") != true {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	// A messaging service instead of a number, on an SMS channel.
	r = s.Admin("PUT", path, map[string]any{"account_sid": twSID, "auth_token": twToken, "messaging_service_sid": "MG0123456789abcdef0123456789abcdef"})
	if r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.twilio.messaging_service_sid") != "MG0123456789abcdef0123456789abcdef" || stacktest.Path(r.JSON, "data.twilio.from") != nil {
		t.Fatalf("messaging service: %d %s", r.Status, r.Body)
	}
	list := s.Admin("GET", "/admin/tenants/"+sms.ID+"/channels", nil)
	me := s.Do("GET", "/v1/me", "Bearer "+sms.Token, nil)
	for _, got := range []stacktest.Response{r, list, me} {
		if strings.Contains(string(got.Body), twToken) || strings.Contains(string(got.Body), "auth_token") {
			t.Fatalf("the auth token is shown: %s", got.Body)
		}
	}
	if !strings.Contains(string(list.Body), "MG0123456789abcdef0123456789abcdef") {
		t.Fatalf("the channel list does not show the Twilio info: %s", list.Body)
	}

	voice := s.NewTenant("Beta", "voice")
	vpath := "/admin/tenants/" + voice.ID + "/channels/" + voice.ChannelID + "/twilio"
	page := s.NewTenant("Page", "messenger")
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		says       string
	}{
		{"bad account SID", path, map[string]any{"account_sid": "AC123", "auth_token": twToken, "from": "+15005550006"}, 400, "account_sid"},
		{"account SID of another kind", path, map[string]any{"account_sid": "MG0123456789abcdef0123456789abcdef", "auth_token": twToken, "from": "+15005550006"}, 400, "account_sid"},
		{"short auth token", path, map[string]any{"account_sid": twSID, "auth_token": "abc", "from": "+15005550006"}, 400, "auth_token"},
		{"from not E.164", path, map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "5005550006"}, 400, "from"},
		{"neither from nor service", path, map[string]any{"account_sid": twSID, "auth_token": twToken}, 400, "from"},
		{"bad messaging service SID", path, map[string]any{"account_sid": twSID, "auth_token": twToken, "messaging_service_sid": "MGxyz"}, 400, "messaging_service_sid"},
		{"unknown key", path, map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006", "api_key": "x"}, 400, "api_key"},
		{"voice without from", vpath, map[string]any{"account_sid": twSID, "auth_token": twToken, "messaging_service_sid": "MG0123456789abcdef0123456789abcdef"}, 400, "from: is required on a voice channel"},
		{"messenger channel", "/admin/tenants/" + page.ID + "/channels/" + page.ChannelID + "/twilio", map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"}, 400, "sms and voice channels only"},
		{"unknown channel", "/admin/tenants/" + sms.ID + "/channels/ch_nosuchchannel/twilio", map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"}, 404, "ch_nosuchchannel"},
		{"another tenant's channel", "/admin/tenants/" + voice.ID + "/channels/" + sms.ChannelID + "/twilio", map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"}, 404, sms.ChannelID},
		{"malformed JSON", path, `{"account_sid":`, 400, "JSON"},
	} {
		r := s.Admin("PUT", c.path, c.body)
		if r.Status != c.status || stacktest.Path(r.JSON, "status") != "error" || !strings.Contains(string(r.Body), c.says) {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, r.Status, r.Body, c.status, c.says)
		}
	}
	if r := s.Admin("PUT", vpath, map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"}); r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.kind") != "voice" {
		t.Fatalf("voice: %d %s", r.Status, r.Body)
	}
	// Channel tokens and account secrets do not pass the admin API.
	for _, auth := range []string{"Bearer " + sms.Token, sms.Secret} {
		if r := s.Do("PUT", path, auth, map[string]any{"account_sid": twSID, "auth_token": twToken, "from": "+15005550006"}); r.Status != http.StatusForbidden {
			t.Errorf("%q on the admin route: %d %s", auth[:8], r.Status, r.Body)
		}
	}
}
