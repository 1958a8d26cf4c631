package main

import (
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/installations"
)

// The installed sender's long poll (up to 20 s) fits its function's
// timeout, and that timeout fits API Gateway's 29 s.
func TestLongPollTimeout(t *testing.T) {
	if got := longAPITimeouts["installation-pull"]; got < installations.MaxWait+5*time.Second || got > 29*time.Second {
		t.Fatalf("installation-pull timeout %v", got)
	}
}
