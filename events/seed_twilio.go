package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// SampleSMSChannel is the sample tenant's SMS channel, whose Twilio
// credentials the admin-twilio-set sample sets.
const SampleSMSChannel = "ch_samplesms"

// seedTwilio writes the sample SMS channel, where missing (without
// credentials: the sample sets them).
func seedTwilio(ctx context.Context, d *wiring.Env) error {
	store := d.Tenancy()
	if _, err := store.GetChannel(ctx, SampleTenant, SampleSMSChannel); apperr.Is(err, apperr.KindNotFound) {
		err = store.CreateChannel(ctx, tenancy.Channel{ID: SampleSMSChannel, TenantID: SampleTenant, Kind: tenancy.SMS, Name: "Sample SMS number", DefaultCountry: "PK"})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample sms channel: %w", err)
		}
	} else if err != nil {
		return err
	}
	return nil
}
