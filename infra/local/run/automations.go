package main

import (
	"context"
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The demo automation: the issue's "send a message, wait one minute, add
// a tag", on, on the demo WhatsApp channel with its approved template.
const (
	demoAutomationName = "Demo: welcome"
	demoAutomationTag  = "welcomed"
	demoAutomationWait = 60
)

// seedAutomation gives the demo tenant its automation, switched on, once
// (again after it was deleted): demo.env gains AUTOMATION_ID. It runs after
// seedDemoTemplate (the template must be there and approved: an
// automation that is on has its references checked). It reports whether
// env changed.
func seedAutomation(ctx context.Context, d *wiring.Env, env map[string]string) (bool, error) {
	tenant, channel := env["TENANT_ID"], env["CHANNEL_WHATSAPP"]
	if tenant == "" || channel == "" {
		return false, nil
	}
	svc := &automations.Service{Store: d.AutomationStore(), Refs: d.AutomationRefs(), Now: time.Now,
		NewID: func() string { return tenancy.NewID("aut") }, MaxPerTenant: d.Limits.AutomationsPerTenant}
	if id := env["AUTOMATION_ID"]; id != "" {
		if _, err := svc.Get(ctx, tenant, id); err == nil {
			return false, nil
		} else if !apperr.Is(err, apperr.KindNotFound) {
			return false, fmt.Errorf("the demo automation: %w", err)
		}
	}
	on := true
	a, err := svc.Create(ctx, tenant, demoAutomation(channel, on))
	if err != nil {
		return false, fmt.Errorf("seed the demo automation: %w", err)
	}
	env["AUTOMATION_ID"] = a.ID
	return true, nil
}

// demoAutomation is the demo automation's definition on the WhatsApp
// channel channel.
func demoAutomation(channel string, on bool) automations.Input {
	return automations.Input{Name: demoAutomationName, On: &on, Nodes: []automations.NodeInput{
		{Type: automations.NodeSendMessage, ChannelID: channel,
			Template: &automations.TemplateInput{Name: demoTemplate, Language: demoTemplateLanguage}},
		{Type: automations.NodeWait, Seconds: demoAutomationWait},
		{Type: automations.NodeAddTag, Tag: demoAutomationTag},
	}}
}
