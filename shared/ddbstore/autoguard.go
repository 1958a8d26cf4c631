package ddbstore

import (
	"context"

	"github.com/startmsg/chatbackend/shared/automations"
)

// A tenant's automation guard (TENANT#<t> / GUARD#AUTO, attribute v) makes
// the automations-per-tenant limit exact (automations.TenantGuard): each
// create moves v on, conditioned on the value read before the tenant's
// automations were counted. Deletes leave it alone (they only make room).
// Tenants without one start at 0.

const skAutoGuard = "GUARD#AUTO"

var _ automations.TenantGuard = (*Automations)(nil)

// AutomationsVersion reads the tenant's guard (strongly consistent).
func (s *Automations) AutomationsVersion(ctx context.Context, tenantID string) (int64, error) {
	return readGuard(ctx, s.API, s.Table, tenantPK(tenantID), skAutoGuard, "automation guard")
}

// CreateAutomationIf puts the automation (its ID not taken) and moves the
// tenant's guard from seen to seen+1 in one transaction.
func (s *Automations) CreateAutomationIf(ctx context.Context, a automations.Automation, seen int64) error {
	it, err := item(tenantPK(a.TenantID), automationSK(a.ID), a)
	if err != nil {
		return err
	}
	return putGuarded(ctx, s.API, s.Table, it, tenantPK(a.TenantID), skAutoGuard, seen, "automation", a.ID)
}
