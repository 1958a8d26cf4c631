package ddbstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
)

// Concurrent creates on one channel stop exactly at the channel's limit:
// the others are refused with the limit (a 422), none with a server error;
// deletes make room again, and another channel has its own count.
func TestConnectionsPerChannelLimitConcurrent(t *testing.T) {
	store, _ := newConnections(t)
	ctx := t.Context()
	var ids atomic.Int64
	svc := &connections.Service{
		Store:         store,
		CheckURL:      func(context.Context, string) error { return nil },
		CustomFields:  func(context.Context, string) ([]string, error) { return nil, nil },
		NewSecret:     func() string { return "whsec_test" },
		NewID:         func() string { return fmt.Sprintf("conn_%03d", ids.Add(1)) },
		Now:           time.Now,
		MaxPerChannel: 3,
	}
	in := func() connections.Input {
		name, url := "CRM", "https://example.com/hook"
		return connections.Input{Name: &name, URL: &url, Triggers: &[]string{"email"}}
	}
	race := func(channel string, n int) (created []connections.Connection, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				c, err := svc.Create(ctx, "ten_lim", channel, connections.SourceAPI, in())
				mu.Lock()
				defer mu.Unlock()
				switch e, _ := apperr.As(err); {
				case err == nil:
					created = append(created, c)
				case e != nil && e.Kind == apperr.KindRejected && e.Field == "connections_per_channel":
					refused++
				default:
					t.Errorf("create: %v; want created or refused by the limit", err)
				}
			})
		}
		close(start)
		wg.Wait()
		return created, refused
	}
	created, refused := race("ch_a", 12)
	if len(created) != 3 || refused != 9 {
		t.Fatalf("12 concurrent creates with a limit of 3: %d created, %d refused", len(created), refused)
	}
	if all, _ := svc.List(ctx, "ten_lim", "ch_a"); len(all) != 3 {
		t.Fatalf("%d connections on the channel, want 3", len(all))
	}
	if err := svc.Delete(ctx, "ten_lim", "ch_a", created[0].ID); err != nil {
		t.Fatal(err)
	}
	if again, refused := race("ch_a", 6); len(again) != 1 || refused != 5 {
		t.Fatalf("after a delete: %d created, %d refused; want 1 and 5", len(again), refused)
	}
	if other, _ := race("ch_b", 2); len(other) != 2 {
		t.Fatalf("another channel: %d created, want 2", len(other))
	}
}
