package messages

import (
	"testing"
	"time"
)

func TestStatusesOnlyMoveForward(t *testing.T) {
	m := Message{Status: StatusQueued}
	now := time.UnixMilli(1_700_000_000_000)
	if !m.Stamp(StatusSent, now, nil) || m.SentAt != now.UnixMilli() {
		t.Fatalf("queued → sent refused: %+v", m)
	}
	if !m.Stamp(StatusRead, now.Add(time.Second), nil) {
		t.Fatal("sent → read refused")
	}
	if m.Stamp(StatusDelivered, now.Add(2*time.Second), nil) || m.Status != StatusRead || m.DeliveredAt != 0 {
		t.Fatalf("a late delivered moved read back: %+v", m)
	}
	if !m.Stamp(StatusFailed, now, &Failure{Code: "131047", Message: "Re-engagement message"}) || m.Failure == nil {
		t.Fatal("read → failed refused")
	}
	if m.Stamp(StatusSent, now, nil) || m.Status != StatusFailed {
		t.Fatal("failed moved")
	}
}

func TestWindow(t *testing.T) {
	now := time.Now()
	if InWindow(0, now) {
		t.Fatal("no inbound message opens the window")
	}
	if !InWindow(now.Add(-23*time.Hour).UnixMilli(), now) || InWindow(now.Add(-24*time.Hour).UnixMilli(), now) {
		t.Fatal("the window is 24 h")
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range []string{"queued", "sent", "delivered", "read", "failed", "received"} {
		if _, err := ParseStatus(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ParseStatus("bogus"); err == nil {
		t.Fatal("bogus accepted")
	}
}

// A call's ladder: queued → sent → completed, or failed (busy, no answer);
// a late "sent" (ringing) never moves a completed call back, and a
// completed call is never "delivered" or "read".
func TestCallLadder(t *testing.T) {
	m := Message{Status: StatusQueued}
	now := time.UnixMilli(1_700_000_000_000)
	if !m.Stamp(StatusSent, now, nil) || !m.Stamp(StatusCompleted, now.Add(time.Second), nil) || m.CompletedAt != now.Add(time.Second).UnixMilli() {
		t.Fatalf("sent → completed refused: %+v", m)
	}
	for _, s := range []Status{StatusQueued, StatusSent, StatusDelivered, StatusRead, StatusCompleted} {
		if m.Stamp(s, now, nil) || m.Status != StatusCompleted {
			t.Fatalf("completed moved to %s: %+v", s, m)
		}
	}
	if Advances(StatusRead, StatusCompleted) || !Advances(StatusDelivered, StatusCompleted) || !Advances(StatusSent, StatusCompleted) {
		t.Fatal("completed is a call's last step, after sent")
	}
	if _, err := ParseStatus("completed"); err != nil {
		t.Fatal(err)
	}
}
