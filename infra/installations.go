package main

import "time"

// longAPITimeouts are the API functions that may run longer than
// apiTimeout: the installed sender's pull long-polls up to
// installations.MaxWait (20 s), within API Gateway's 29 s integration
// timeout.
var longAPITimeouts = map[string]time.Duration{
	"installation-pull": 26 * time.Second,
}
