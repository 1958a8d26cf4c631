package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// No way of printing credentials shows the token or the secret.
func TestWhatsAppSecretsDoNotPrint(t *testing.T) {
	c := WhatsAppCredentials{TenantID: "ten_1", ChannelID: "ch_1", AccessToken: "EAAtokenvalue123", PhoneNumberID: "1", WABAID: "2", AppSecret: "appsecretvalue456"}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out = append(out, fmt.Sprintf(f, c), fmt.Sprintf(f, &c), fmt.Sprintf(f, c.AccessToken))
	}
	b, _ := json.Marshal(c)
	out = append(out, string(b))
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	l.Info("creds", "c", c, "token", c.AccessToken, "secret", c.AppSecret)
	l2 := slog.New(slog.NewTextHandler(&logs, nil))
	l2.Info("creds", "c", c, "token", c.AccessToken)
	out = append(out, logs.String(), fmt.Sprint(apperr.Invalidf("x", "%v", c)))
	for _, s := range out {
		if strings.Contains(s, "tokenvalue") || strings.Contains(s, "secretvalue") {
			t.Errorf("a credential shows: %s", s)
		}
	}
	if c.AccessToken.Reveal() != "EAAtokenvalue123" {
		t.Error("Reveal")
	}
}

func TestParseInstance(t *testing.T) {
	for seg, want := range map[string]int64{"instance1": 1, "instance123": 123, "42": 42, "instance999999999999999999": 999999999999999999} {
		if id, ok := ParseInstance(seg); !ok || id != want {
			t.Errorf("%q: %d %v", seg, id, ok)
		}
	}
	for _, seg := range []string{"", "instance", "instance0", "instance01", "instance-1", "instance+1", "instance1a", "Instance1", "instance 1", "instance1.5", "instance9999999999999999999", "sendTemplate"} {
		if id, ok := ParseInstance(seg); ok {
			t.Errorf("%q: parsed as %d", seg, id)
		}
	}
	if FormatInstance(7) != "instance7" {
		t.Error(FormatInstance(7))
	}
}

type chanReader map[string]Channel

func (m chanReader) GetChannel(_ context.Context, tenantID, channelID string) (Channel, error) {
	if c, ok := m[tenantID+"/"+channelID]; ok {
		return c, nil
	}
	return Channel{}, apperr.NotFound("Channel", channelID)
}

func TestCheckInstance(t *testing.T) {
	store := chanReader{"ten_1/ch_1": {ID: "ch_1", TenantID: "ten_1", Kind: WhatsApp, InstanceID: 7}, "ten_2/ch_2": {ID: "ch_2", TenantID: "ten_2", Kind: WhatsApp, InstanceID: 8}}
	ctx := context.Background()
	if c, err := CheckInstance(ctx, store, "ten_1", "ch_1", "instance7"); err != nil || c.ID != "ch_1" {
		t.Fatalf("own instance: %v", err)
	}
	for _, seg := range []string{"instance8", "instance9"} {
		if _, err := CheckInstance(ctx, store, "ten_1", "ch_1", seg); !apperr.Is(err, apperr.KindForbidden) {
			t.Errorf("%s: %v, want forbidden", seg, err)
		}
	}
	if _, err := CheckInstance(ctx, store, "ten_1", "ch_1", "instancex"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("not an instance: %v", err)
	}
}
