package main

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// The demo WhatsApp channel's template: the one seed 002's own requests
// name, so that they work verbatim against make run.
const (
	demoTemplate          = "template_name"
	demoTemplateNamespace = "namespace_of_template"
	demoTemplateLanguage  = "en"
	demoTemplateText      = "Hello! This is the demo template of your local chat backend."
)

// seedDemoTemplate makes the demo WhatsApp channel's approved template
// once (again after it was deleted), approved here as the provider's
// status webhook would. The provider sandbox holds it from its start
// (startSandbox), so it is not submitted: the sandbox keeps nothing across
// restarts, and this registry does.
func seedDemoTemplate(ctx context.Context, d *wiring.Env, demo map[string]string) error {
	tenantID, channelID := demo["TENANT_ID"], demo["CHANNEL_WHATSAPP"]
	if tenantID == "" || channelID == "" {
		return nil
	}
	reg := messaging.Of(d).TemplateRegistry()
	reg.Submitter = templates.LocalOnly{}
	if _, err := reg.Store.FindTemplate(ctx, tenantID, channelID, demoTemplate, demoTemplateLanguage); err == nil {
		return nil
	} else if !apperr.Is(err, apperr.KindNotFound) {
		return fmt.Errorf("demo template: %w", err)
	}
	name, ns, lang, cat := demoTemplate, demoTemplateNamespace, demoTemplateLanguage, "MARKETING"
	comps := []templates.Component{{Type: "BODY", Text: demoTemplateText}}
	_, err := reg.Create(ctx, tenantID, channelID, templates.Input{Name: &name, Namespace: &ns, Language: &lang, Category: &cat, Components: &comps})
	if err != nil && !apperr.Is(err, apperr.KindExists) {
		return fmt.Errorf("demo template: %w", err)
	}
	return reg.SetStatus(ctx, tenantID, channelID, demoTemplate, demoTemplateLanguage, templates.StatusApproved, "")
}
