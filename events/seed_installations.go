package events

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The sender installations the installation samples name, both on the
// sample WhatsApp channel, with the secret SampleInstallSecret (stored as
// its hash, as installation-create stores it): SampleInstallation, which
// add_message's samples queue for and whose pull hands out the message
// seeded on it (SampleInstallMessage), and SampleAckInstallation, whose two
// messages (SampleAckMessage, SampleAckBatchMessage) are already leased
// under the leases SampleAckLease and SampleAckBatchLease (the queue's
// first two sequence numbers) for a day from the seeding, for the ack
// samples.
const (
	SampleInstallation    = "5a3b1c9e-0f1d-4c2a-9b7e-000000000042"
	SampleAckInstallation = "5a3b1c9e-0f1d-4c2a-9b7e-000000000043"
	SampleInstallSecret   = "is_sample_installation_secret_for_entry_path_tests"
	SampleInstallNumber   = "+923001112233"
	SampleInstallMessage  = "msg_sampleinstall"
	SampleAckMessage      = "msg_sampleack"
	SampleAckBatchMessage = "msg_sampleackbatch"
	sampleLeaseToken      = "5a3b1c9e0f1d4c2a9b7e0042"
	SampleAckLease        = "1." + sampleLeaseToken
	SampleAckBatchLease   = "2." + sampleLeaseToken
	sampleInstallTo       = "+923001234567"
)

// seedInstallations writes the installations, where missing, and their
// queued messages.
func seedInstallations(ctx context.Context, d *wiring.Env) error {
	store := d.Installations()
	now := d.Now()
	for _, q := range []struct {
		uuid, name string
		msgs       []string
		lease      bool
	}{
		{SampleInstallation, "Sample sender", []string{SampleInstallMessage}, false},
		{SampleAckInstallation, "Sample sender (acks)", []string{SampleAckMessage, SampleAckBatchMessage}, true},
	} {
		if _, err := store.GetInstallation(ctx, q.uuid); err == nil {
			continue
		} else if !apperr.Is(err, apperr.KindNotFound) {
			return err
		}
		inst := installations.Installation{UUID: q.uuid, TenantID: SampleTenant, ChannelID: SampleWAChannel, Name: q.name,
			Numbers: []string{SampleInstallNumber}, UseAPI: true, DefaultCountry: "PK", SecretHash: tenancy.Hash(SampleInstallSecret),
			CreatedAt: now.UnixMilli(), UpdatedAt: now.UnixMilli()}
		if err := store.CreateInstallation(ctx, inst); err != nil {
			return fmt.Errorf("seed sample installation %s: %w", q.uuid, err)
		}
		var queued []installations.Entry
		for _, id := range q.msgs {
			text := "Your sample order is on its way."
			m := messages.Message{ID: id, TenantID: SampleTenant, ChannelID: SampleWAChannel, ChannelKind: string(tenancy.WhatsApp),
				Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: sampleInstallTo,
				Status: messages.StatusQueued, InstallationID: q.uuid, CreatedAt: now.UnixMilli()}
			e := installations.Entry{MessageID: id, TenantID: SampleTenant, To: sampleInstallTo, Text: text, CreatedAt: m.CreatedAt}
			e, err := store.Enqueue(ctx, q.uuid, m, e, nil)
			if err != nil {
				return fmt.Errorf("seed sample message %s: %w", id, err)
			}
			e.Lease = strconv.FormatInt(e.Seq, 10) + "." + sampleLeaseToken
			queued = append(queued, e)
		}
		if q.lease {
			if n, err := store.Lease(ctx, q.uuid, queued, sampleLeaseToken, now, now.Add(24*time.Hour)); err != nil || n != len(queued) {
				return fmt.Errorf("seed sample leases: %d of %d, %v", n, len(queued), err)
			}
		}
	}
	return nil
}
