package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The automations the automation samples name, of SampleTenant: the one
// they read, replace and switch on (SampleAutomation) and one the delete
// sample deletes (it comes back at the next make run). Their nodes name
// nothing (a tag, a wait), so switching one on needs no channel.
const (
	SampleAutomation       = "aut_sample"
	sampleAutomationDelete = "aut_sampledelete"
	sampleAutomationAt     = 1795000000
)

// seedAutomations writes the automation samples' automations where they
// are missing.
func seedAutomations(ctx context.Context, d *wiring.Env) error {
	store := d.Automations()
	for _, a := range []automations.Automation{
		{ID: SampleAutomation, Name: "Sample automation"},
		{ID: sampleAutomationDelete, Name: "Sample automation to delete"},
	} {
		a.TenantID, a.CreatedAt, a.UpdatedAt, a.Version = SampleTenant, sampleAutomationAt, sampleAutomationAt, 1
		a.Nodes = []automations.Node{{ID: "n1", Type: automations.NodeAddTag, Tag: "sample"}, {ID: "n2", Type: automations.NodeWait, Seconds: 60}}
		a.Triggers = []automations.Trigger{}
		if _, err := store.GetAutomation(ctx, SampleTenant, a.ID); apperr.Is(err, apperr.KindNotFound) {
			if err := store.CreateAutomation(ctx, a); err != nil && !apperr.Is(err, apperr.KindExists) {
				return fmt.Errorf("seed sample automation %s: %w", a.ID, err)
			}
		} else if err != nil {
			return err
		}
	}
	return nil
}
