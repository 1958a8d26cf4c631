//go:build !linux

package ddblean

import "net"

// rawSocket: the raw socket calls are made on Linux only (sock_linux.go).
func rawSocket(c net.Conn) net.Conn { return c }
