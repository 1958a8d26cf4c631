package connections

import (
	"context"
	"fmt"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// A channel's connections stop at the stage's limit with a 422 that names
// it; another channel of the tenant is not affected; 0 takes the default.
func TestConnectionsPerChannelLimit(t *testing.T) {
	svc, _, _ := newService()
	svc.MaxPerChannel = 2
	n := 0
	svc.NewID = func() string { n++; return fmt.Sprintf("conn_%d", n) }
	ctx := context.Background()
	in := func() Input {
		name, url := "CRM", "https://example.com/hook"
		return Input{Name: &name, URL: &url, Triggers: &[]string{"email"}}
	}
	for range 2 {
		if _, err := svc.Create(ctx, "ten_1", "ch_1", SourceAPI, in()); err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.Create(ctx, "ten_1", "ch_1", SourceZapier, in())
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindRejected || e.Field != "connections_per_channel" {
		t.Fatalf("3rd connection of 2: %v, want a rejection (422) naming connections_per_channel", err)
	}
	if _, err := svc.Create(ctx, "ten_1", "ch_2", SourceAPI, in()); err != nil {
		t.Fatalf("another channel: %v", err)
	}
	svc.MaxPerChannel = 0
	if _, err := svc.Create(ctx, "ten_1", "ch_1", SourceAPI, in()); err != nil {
		t.Fatalf("default limit (%d): %v", MaxConnectionsPerChannel, err)
	}
}
