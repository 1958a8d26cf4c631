//go:build !unix

package ddblean

import "net"

// idleProbe looks at an idle connection before it is used again.
type idleProbe struct{}

func newIdleProbe(net.Conn) *idleProbe { return &idleProbe{} }

// isOpen: see idleOpen.
func (*idleProbe) isOpen() bool { return idleOpen(nil) }

// idleOpen cannot look at the socket here: a closed connection shows up
// as an error of the request, which the retryer retries.
func idleOpen(net.Conn) bool { return true }
