package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Kind names a call a process made to the fake Runtime API.
type Kind string

const (
	KindNext        Kind = "next"         // GET  /2018-06-01/runtime/invocation/next
	KindResponse    Kind = "response"     // POST /2018-06-01/runtime/invocation/{id}/response
	KindError       Kind = "error"        // POST /2018-06-01/runtime/invocation/{id}/error
	KindInitError   Kind = "init-error"   // POST /2018-06-01/runtime/init/error
	KindExtRegister Kind = "ext-register" // POST /2020-01-01/extension/register
)

// Request is one call to the fake Runtime API.
type Request struct {
	At   time.Time // when the handler received it
	Kind Kind
	ID   string // invocation id, for response and error
	Body []byte // request body, for the POSTs
}

// Runtime is a fake Lambda Runtime API (version 2018-06-01) serving one
// process. GET .../invocation/next hands out the invocations queued with
// Invoke, or holds the request open until Close, as Lambda does between
// invocations; the POSTs are recorded and answered 202. The internal
// extension aws-lambda-go registers for WithEnableSIGTERM is accepted too.
//
// Use one Runtime per process so that every recorded request belongs to it.
type Runtime struct {
	// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
	Addr string

	srv      *http.Server
	queue    chan invocation
	closed   chan struct{}
	initDone chan struct{}
	initOnce sync.Once
	closeErr error
	closeMu  sync.Once

	mu     sync.Mutex
	reqs   []Request
	nextID int
}

type invocation struct {
	id      string
	payload []byte
}

// maxBody caps what the fake reads of a POST body (Lambda's own limit is 6 MB).
const maxBody = 6 << 20

// StartRuntime starts a fake Runtime API on a free port of 127.0.0.1.
func StartRuntime() (*Runtime, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake runtime API: %w", err)
	}
	r := &Runtime{
		Addr:     ln.Addr().String(),
		queue:    make(chan invocation, 64),
		closed:   make(chan struct{}),
		initDone: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.post(KindResponse))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.post(KindError))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", r.post(KindInitError))
	mux.HandleFunc("POST /2020-01-01/extension/register", r.register)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", r.hold)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed after Close
	return r, nil
}

// Invoke queues an invocation with the given JSON payload and returns its
// request id. Queue before the process starts to have its first next answered.
func (r *Runtime) Invoke(payload []byte) string {
	r.mu.Lock()
	r.nextID++
	id := "bench-" + strconv.Itoa(r.nextID)
	r.mu.Unlock()
	r.queue <- invocation{id: id, payload: payload}
	return id
}

// InitDone is closed at the first GET .../invocation/next or POST
// .../init/error, whichever comes first: the end of the init phase.
func (r *Runtime) InitDone() <-chan struct{} { return r.initDone }

// Requests returns a copy of the calls received so far, in arrival order.
func (r *Runtime) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// InitEnd returns the first next or init-error request, if there was one.
func (r *Runtime) InitEnd() (Request, bool) {
	for _, q := range r.Requests() {
		if q.Kind == KindNext || q.Kind == KindInitError {
			return q, true
		}
	}
	return Request{}, false
}

// Close stops the server and drops its connections, releasing held requests.
func (r *Runtime) Close() error {
	r.closeMu.Do(func() {
		close(r.closed)
		r.closeErr = r.srv.Close()
	})
	return r.closeErr
}

func (r *Runtime) record(q Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, q)
	r.mu.Unlock()
	if q.Kind == KindNext || q.Kind == KindInitError {
		r.initOnce.Do(func() { close(r.initDone) })
	}
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	r.record(Request{At: time.Now(), Kind: KindNext})
	select {
	case inv := <-r.queue:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:bench")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		w.Write(inv.payload) //nolint:errcheck // the process may be gone
	case <-req.Context().Done():
	case <-r.closed:
	}
}

func (r *Runtime) post(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		r.record(Request{At: at, Kind: kind, ID: req.PathValue("id"), Body: body})
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"OK"}`) //nolint:errcheck
	}
}

func (r *Runtime) register(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, maxBody))
	r.record(Request{At: time.Now(), Kind: KindExtRegister, Body: body})
	w.Header().Set("Lambda-Extension-Identifier", "bench-extension")
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{}`) //nolint:errcheck
}

// hold blocks until the caller goes away or the Runtime closes: an extension
// registered for no events never gets one.
func (r *Runtime) hold(w http.ResponseWriter, req *http.Request) {
	select {
	case <-req.Context().Done():
	case <-r.closed:
	}
}
