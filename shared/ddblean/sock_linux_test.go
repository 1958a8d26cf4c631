package ddblean

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pair is a connected TCP pair on loopback: the client side raw (a
// sockConn) or as net gives it, and the server side.
func pair(t *testing.T, raw bool) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	if raw {
		c = rawSocket(c)
		if _, ok := c.(*sockConn); !ok {
			t.Fatalf("rawSocket gave %T", c)
		}
	}
	t.Cleanup(func() { c.Close(); server.Close() })
	return c, server
}

// describe is what a caller can tell of an error: its message with the
// addresses taken out, and the checks the SDK's retryer and ddblean make.
func describe(err error, c net.Conn) string {
	if err == nil {
		return "nil"
	}
	msg := strings.NewReplacer(c.LocalAddr().String(), "L", c.RemoteAddr().String(), "R").Replace(err.Error())
	var oe *net.OpError
	var te interface{ Timeout() bool }
	timeout := errors.As(err, &te) && te.Timeout()
	return strings.Join([]string{msg,
		"OpError:" + boolStr(errors.As(err, &oe)), "EOF:" + boolStr(err == io.EOF), "timeout:" + boolStr(timeout),
		"closed:" + boolStr(errors.Is(err, net.ErrClosed)), "deadline:" + boolStr(errors.Is(err, os.ErrDeadlineExceeded)),
		"reset:" + boolStr(errors.Is(err, syscall.ECONNRESET)), "pipe:" + boolStr(errors.Is(err, syscall.EPIPE))}, " ")
}

func boolStr(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// TestSockConnAsNet: a sockConn reads, writes and fails as the TCP
// connection under it does through net: data both ways (a write larger
// than the socket's buffers included), the peer's close, its reset,
// deadlines, use after Close.
func TestSockConnAsNet(t *testing.T) {
	type outcome struct{ data, err string }
	scenarios := map[string]func(t *testing.T, c, s net.Conn) outcome{
		"echo": func(t *testing.T, c, s net.Conn) outcome {
			go func() { b := make([]byte, 5); io.ReadFull(s, b); s.Write(bytes.ToUpper(b)) }()
			if _, err := c.Write([]byte("hello")); err != nil {
				return outcome{err: describe(err, c)}
			}
			b := make([]byte, 5)
			_, err := io.ReadFull(c, b)
			return outcome{string(b), describe(err, c)}
		},
		"large write": func(t *testing.T, c, s net.Conn) outcome {
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
			got := make(chan []byte, 1)
			go func() {
				time.Sleep(50 * time.Millisecond) // the writer fills the buffers and waits
				b, _ := io.ReadAll(io.LimitReader(s, int64(len(big))))
				got <- b
			}()
			n, err := c.Write(big)
			b := <-got
			return outcome{strings.Join([]string{boolStr(n == len(big)), boolStr(bytes.Equal(b, big))}, ","), describe(err, c)}
		},
		"peer close": func(t *testing.T, c, s net.Conn) outcome {
			s.Write([]byte("ab"))
			s.Close()
			b, err := io.ReadAll(io.LimitReader(c, 10)) // ReadAll hides EOF: read again
			_, err2 := c.Read(make([]byte, 1))
			return outcome{string(b), describe(err, c) + " / " + describe(err2, c)}
		},
		"peer reset": func(t *testing.T, c, s net.Conn) outcome {
			s.(*net.TCPConn).SetLinger(0)
			s.Close()
			time.Sleep(20 * time.Millisecond)
			_, err := c.Read(make([]byte, 1))
			return outcome{err: describe(err, c)}
		},
		"read deadline": func(t *testing.T, c, s net.Conn) outcome {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := c.Read(make([]byte, 1))
			return outcome{err: describe(err, c)}
		},
		"deadline in the past": func(t *testing.T, c, s net.Conn) outcome {
			c.SetDeadline(time.Unix(1, 0))
			_, werr := c.Write([]byte("x"))
			_, rerr := c.Read(make([]byte, 1))
			return outcome{err: describe(werr, c) + " / " + describe(rerr, c)}
		},
		"deadline moved while reading": func(t *testing.T, c, s net.Conn) outcome {
			time.AfterFunc(20*time.Millisecond, func() { c.SetDeadline(time.Unix(1, 0)) })
			_, err := c.Read(make([]byte, 1))
			return outcome{err: describe(err, c)}
		},
		"closed": func(t *testing.T, c, s net.Conn) outcome {
			c.Close()
			_, werr := c.Write([]byte("x"))
			_, rerr := c.Read(make([]byte, 1))
			return outcome{err: describe(werr, c) + " / " + describe(rerr, c)}
		},
		"empty read": func(t *testing.T, c, s net.Conn) outcome {
			n, err := c.Read(nil)
			return outcome{boolStr(n == 0), describe(err, c)}
		},
	}
	for name, run := range scenarios {
		t.Run(name, func(t *testing.T) {
			c, s := pair(t, false)
			want := run(t, c, s)
			rc, rs := pair(t, true)
			got := run(t, rc, rs)
			if got != want {
				t.Errorf("sockConn: %+v\nnet:      %+v", got, want)
			}
		})
	}
}
