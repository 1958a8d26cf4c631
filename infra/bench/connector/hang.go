package connector

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Hang is a webhook target that accepts connections, reads whatever is sent
// and never answers, until Close.
type Hang struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

// NewHang listens on a free loopback port.
func NewHang() (*Hang, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hang{ln: ln}
	h.wg.Go(h.serve)
	return h, nil
}

// URL is the target's http:// URL.
func (h *Hang) URL() string { return "http://" + h.ln.Addr().String() + "/hook" }

// Accepted is how many connections the target accepted.
func (h *Hang) Accepted() int { return int(h.accepted.Load()) }

func (h *Hang) serve() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.accepted.Add(1)
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
	}
}

// Close stops listening and drops every connection.
func (h *Hang) Close() {
	_ = h.ln.Close()
	h.mu.Lock()
	for _, c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}
