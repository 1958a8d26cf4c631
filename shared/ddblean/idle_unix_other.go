//go:build unix && !linux

package ddblean

import (
	"net"
	"syscall"
)

// idleProbe looks at an idle connection before it is used again.
type idleProbe struct{ c net.Conn }

func newIdleProbe(c net.Conn) *idleProbe { return &idleProbe{c} }

// isOpen: see idleOpen.
func (p *idleProbe) isOpen() bool { return idleOpen(p.c) }

// idleOpen reports whether an idle connection is still open: nothing to
// read on it (neither data nor the server's close), checked without
// blocking.
func idleOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
			default:
				open = false // data, the server's close (EOF) or an error
			}
			return true
		}
	})
	return err == nil && open
}
