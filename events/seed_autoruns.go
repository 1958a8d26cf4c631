package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// SampleAutomation is the sample tenant's automation the runs samples
// list (automation-run-list).
const SampleAutomation = "aut_sample"

// seedAutomation writes SampleAutomation (on, one node) if it is missing.
func seedAutomation(ctx context.Context, d *wiring.Env) error {
	s := d.Automations()
	if _, err := s.GetAutomation(ctx, SampleTenant, SampleAutomation); !apperr.Is(err, apperr.KindNotFound) {
		return err
	}
	err := s.CreateAutomation(ctx, automations.Automation{ID: SampleAutomation, TenantID: SampleTenant, Name: "Sample", On: true,
		Nodes:    []automations.Node{{ID: "n1", Type: automations.NodeAddTag, Tag: "sampled"}},
		Triggers: []automations.Trigger{}, CreatedAt: 1575618542, UpdatedAt: 1575618542, Version: 1})
	if err != nil && !apperr.Is(err, apperr.KindExists) {
		return fmt.Errorf("seed sample automation: %w", err)
	}
	return nil
}
