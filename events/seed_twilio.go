package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The sample SMS channel the Twilio status callback sample names, with
// Twilio credentials: the sample is signed with SampleTwilioAuthToken.
const (
	SampleSMSChannel      = "ch_samplesms"
	SampleTwilioSID       = "AC0000000000000000000000000000a042"
	SampleTwilioAuthToken = "5a3b1c9e0f1d4c2a9b7e000000000042"
	SampleTwilioFrom      = "+15005550006"
)

// seedTwilio writes the sample SMS channel and its Twilio credentials,
// where missing.
func seedTwilio(ctx context.Context, d *wiring.Env) error {
	store := d.Tenancy()
	ch, err := store.GetChannel(ctx, SampleTenant, SampleSMSChannel)
	if apperr.Is(err, apperr.KindNotFound) {
		ch = tenancy.Channel{ID: SampleSMSChannel, TenantID: SampleTenant, Kind: tenancy.SMS, Name: "Sample SMS number", DefaultCountry: "PK"}
		err = store.CreateChannel(ctx, ch)
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample sms channel: %w", err)
		}
	} else if err != nil {
		return err
	}
	if _, err := store.TwilioCredentials(ctx, SampleTenant, SampleSMSChannel); !apperr.Is(err, apperr.KindNotFound) {
		return err
	}
	svc := &tenancy.Service{Store: store, Now: d.Now}
	if _, err := svc.SetTwilio(ctx, store, SampleTenant, SampleSMSChannel,
		tenancy.TwilioInput{AccountSID: SampleTwilioSID, AuthToken: SampleTwilioAuthToken, From: SampleTwilioFrom}); err != nil {
		return fmt.Errorf("seed sample twilio credentials: %w", err)
	}
	return nil
}
