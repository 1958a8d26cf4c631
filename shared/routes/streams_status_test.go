package routes

import (
	"testing"

	"github.com/startmsg/chatbackend/shared/messages"
)

// TestRouterSeesEveryStatusPastQueued: the trigger router's stream filters
// pass an outbound message's change to each status past queued (a call's
// "completed" included: its status webhooks and hooks' message_status
// trigger fire on it), and not its change to queued.
func TestRouterSeesEveryStatusPastQueued(t *testing.T) {
	fs := EventFunction{Function: "trigger-router", KeyPrefix: "TENANT#"}.StreamFilters()
	for _, s := range []messages.Status{messages.StatusHeld, messages.StatusQueued, messages.StatusSent, messages.StatusDelivered,
		messages.StatusRead, messages.StatusCompleted, messages.StatusFailed} {
		str := func(attr string) (string, bool) {
			switch attr {
			case "direction":
				return string(messages.Outbound), true
			case "status":
				return string(s), true
			}
			return "", false
		}
		want := messages.Advances(messages.StatusQueued, s)
		if got := MatchAny(fs, "MODIFY", "MSG#t#m", str); got != want {
			t.Errorf("an outbound message's change to %s: passed %v, want %v", s, got, want)
		}
	}
}
