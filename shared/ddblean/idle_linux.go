package ddblean

import (
	"net"
	"syscall"
	"unsafe"
)

// idleProbe looks at an idle connection before it is used again: nothing
// to read on it (neither data nor the server's close), checked without
// blocking. It is made once per connection: the socket's RawConn and the
// function it runs are kept, so a check allocates nothing.
type idleProbe struct {
	rc   syscall.RawConn // nil: not a socket, taken as open
	err  error           // from SyscallConn: taken as closed
	peek func(fd uintptr) bool
	open bool
	buf  [1]byte
}

func newIdleProbe(c net.Conn) *idleProbe {
	p := &idleProbe{}
	if sc, ok := c.(syscall.Conn); ok {
		p.rc, p.err = sc.SyscallConn()
	}
	p.peek = p.peekFD
	return p
}

// peekFD is one recv(MSG_PEEK|MSG_DONTWAIT): a raw system call, since it
// never blocks (no hand-off of the thread's P, no wake-up of sysmon).
func (p *idleProbe) peekFD(fd uintptr) bool {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			p.open = true
		default:
			p.open = false // data, the server's close (EOF) or an error
		}
		return true
	}
}

// isOpen reports whether the idle connection is still open.
func (p *idleProbe) isOpen() bool {
	if p.err != nil {
		return false
	}
	if p.rc == nil {
		return true
	}
	p.open = false
	err := p.rc.Read(p.peek)
	return err == nil && p.open
}
