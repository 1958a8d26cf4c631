package ddblean

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sockConn is a TCP connection whose reads and writes are raw system
// calls on its socket, which the net package keeps non-blocking: such a
// call never blocks, so it needs none of the runtime's system-call
// bookkeeping (no hand-off of the thread's P when it is slow, no wake-up
// of sysmon). When the socket is not ready, the goroutine waits in the
// runtime's network poller as net.Conn's own Read and Write do, with the
// connection's deadlines; errors are net's (*net.OpError "read"/"write",
// io.EOF at the end). Close, deadlines and addresses are the TCP
// connection's. One reader and one writer at a time, as a pconn is used.
type sockConn struct {
	net.Conn
	rc syscall.RawConn
	// The functions given to rc, made once; they work on the fields
	// below (no closure allocated per call).
	readFn, writeFn func(fd uintptr) bool
	rbuf            []byte
	rn              int
	rerr            syscall.Errno
	wbuf            []byte
	wn              int
	werr            error
}

// rawSocket wraps a TCP connection as a sockConn; anything else is
// returned as it is.
func rawSocket(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	s := &sockConn{Conn: c, rc: rc}
	s.readFn, s.writeFn = s.readFD, s.writeFD
	return s
}

func (s *sockConn) readFD(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.rbuf))), uintptr(len(s.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller
		case 0:
			s.rn = int(n)
		default:
			s.rerr = e
		}
		return true
	}
}

func (s *sockConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rbuf, s.rn, s.rerr = p, 0, 0
	err := s.rc.Read(s.readFn)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, s.opError("read", err)
	case s.rerr != 0:
		return 0, s.opError("read", os.NewSyscallError("read", s.rerr))
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

func (s *sockConn) writeFD(fd uintptr) bool {
	for len(s.wbuf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.wbuf))), uintptr(len(s.wbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller
		case 0:
			if n == 0 {
				s.werr = io.ErrUnexpectedEOF // as poll.FD.Write
				return true
			}
			s.wn += int(n)
			s.wbuf = s.wbuf[n:]
		default:
			s.werr = os.NewSyscallError("write", e)
			return true
		}
	}
	return true
}

func (s *sockConn) Write(p []byte) (int, error) {
	s.wbuf, s.wn, s.werr = p, 0, nil
	err := s.rc.Write(s.writeFn)
	n := s.wn
	s.wbuf = nil
	if err == nil {
		err = s.werr
	}
	if err != nil {
		return n, s.opError("write", err)
	}
	return n, nil
}

// opError is err as net.Conn's Read or Write reports it: the RawConn's
// own *net.OpError ("raw-read", "raw-write") renamed.
func (s *sockConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: err}
}
