package ddbstore

import (
	"context"

	"github.com/startmsg/chatbackend/shared/connections"
)

// A channel's connection guard (TENANT#<t> / GUARD#CONN#<channel>,
// attribute v) makes the connections-per-channel limit exact
// (connections.ChannelGuard): each create moves v on, conditioned on the
// value read before the channel's connections were counted. Deletes leave
// it alone (they only make room). Channels without one start at 0.

const skConnGuardP = "GUARD#CONN#"

var _ connections.ChannelGuard = (*Connections)(nil)

// ChannelVersion reads the channel's guard (strongly consistent).
func (c *Connections) ChannelVersion(ctx context.Context, tenantID, channelID string) (int64, error) {
	return readGuard(ctx, c.API, c.Table, tenantPK(tenantID), skConnGuardP+channelID, "connection guard of channel "+channelID)
}

// CreateConnectionIf puts the connection (its ID not taken) and moves the
// guard from seen to seen+1 in one transaction.
func (c *Connections) CreateConnectionIf(ctx context.Context, conn connections.Connection, seen int64) error {
	it, err := item(tenantPK(conn.TenantID), connSK(conn.ID), conn)
	if err != nil {
		return err
	}
	return putGuarded(ctx, c.API, c.Table, it, tenantPK(conn.TenantID), skConnGuardP+conn.ChannelID, seen, "connection", conn.ID)
}
