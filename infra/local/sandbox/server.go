package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is a sandbox listening on a port.
type Server struct {
	*Sandbox
	URL string // http://127.0.0.1:<port>
	srv *http.Server
	ln  net.Listener
}

// Listen starts a sandbox on addr ("127.0.0.1:0" picks a free port).
func Listen(addr string, opt Options) (*Server, error) {
	sb, err := New(opt)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("provider sandbox: %s is in use (set SANDBOX_PORT=<free port>): %w", addr, err)
	}
	s := &Server{Sandbox: sb, URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("provider sandbox:", err)
		}
	}()
	return s, nil
}

// Close stops serving and the webhook deliveries.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.Sandbox.cancel() // hanging requests return at once
	_ = s.srv.Shutdown(ctx)
	s.Sandbox.Close()
}
