package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// seedInstallation gives the demo WhatsApp channel a sender installation
// (seed 004) with "Use API" on and always-open hours, once: demo.env gains
// INSTALLATION_UUID and INSTALLATION_SECRET (kept while they still
// authenticate). It reports whether env changed.
func seedInstallation(ctx context.Context, d *wiring.Env, env map[string]string) (bool, error) {
	tenant, channel := env["TENANT_ID"], env["CHANNEL_WHATSAPP"]
	if tenant == "" || channel == "" {
		return false, nil
	}
	svc := &installations.Service{Store: d.InstallationStore(), Now: time.Now, Phone: phone.NormalizeDialled}
	if env["INSTALLATION_UUID"] != "" && env["INSTALLATION_SECRET"] != "" {
		if _, err := svc.Authenticate(ctx, env["INSTALLATION_UUID"], env["INSTALLATION_SECRET"]); err == nil {
			return false, nil
		}
	}
	name, useAPI, numbers := "Demo sender", true, []string{"+923001234567"}
	inst, secret, err := svc.Create(ctx, tenant, channel, "PK", installations.Input{Name: &name, UseAPI: &useAPI, Numbers: &numbers,
		Hours: json.RawMessage(`{}`)})
	if err != nil {
		return false, fmt.Errorf("seed the demo sender installation: %w", err)
	}
	env["INSTALLATION_UUID"], env["INSTALLATION_SECRET"] = inst.UUID, secret
	return true, nil
}
