package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"time"

	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// seedWhatsApp gives the demo WhatsApp channel sandbox credentials (an
// access token, a phone number id, a WABA id, an app secret and a verify
// token, all made up here) and so its instance id, once: demo.env gains
// INSTANCE_ID, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_WABA_ID,
// WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN. The
// phone number id is random, as it must be unique across tenants (a new
// demo tenant in the same tables gets its own). It reports whether env
// changed.
func seedWhatsApp(ctx context.Context, d *wiring.Env, env map[string]string) (bool, error) {
	tenant, channel := env["TENANT_ID"], env["CHANNEL_WHATSAPP"]
	if tenant == "" || channel == "" {
		return false, nil
	}
	store := d.Tenancy()
	if env["INSTANCE_ID"] != "" && env["WHATSAPP_APP_SECRET"] != "" && env["WHATSAPP_PHONE_NUMBER_ID"] != "" {
		if _, err := store.WhatsAppByPhone(ctx, env["WHATSAPP_PHONE_NUMBER_ID"]); err == nil {
			return false, nil
		}
	}
	// The app secret is the provider sandbox's, which signs the webhooks
	// the channel receives.
	secret := os.Getenv(SandboxSecretEnv)
	if secret == "" {
		secret = randHex(16)
	}
	in := tenancy.WhatsAppInput{AccessToken: "EAAsandbox" + randHex(24), PhoneNumberID: randDigits(15), WABAID: randDigits(15),
		AppSecret: secret, VerifyToken: "vt_" + randHex(16)}
	svc := &tenancy.Service{Store: store, Now: time.Now, Instances: store}
	ch, err := svc.SetWhatsApp(ctx, store, tenant, channel, in)
	if err != nil {
		return false, fmt.Errorf("set the demo whatsapp channel's credentials: %w", err)
	}
	env["INSTANCE_ID"] = strconv.FormatInt(ch.InstanceID, 10)
	env["WHATSAPP_PHONE_NUMBER_ID"] = in.PhoneNumberID
	env["WHATSAPP_WABA_ID"] = in.WABAID
	env["WHATSAPP_ACCESS_TOKEN"] = in.AccessToken
	env["WHATSAPP_APP_SECRET"] = in.AppSecret
	env["WHATSAPP_VERIFY_TOKEN"] = in.VerifyToken
	return true, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randDigits is n random decimal digits, the first not 0 (a Meta id).
func randDigits(n int) string {
	out := make([]byte, n)
	for i := range out {
		v, _ := rand.Int(rand.Reader, big.NewInt(10))
		out[i] = byte('0' + v.Int64())
	}
	if out[0] == '0' {
		out[0] = '1'
	}
	return string(out)
}
