// Package awsbody keeps an SDK client from cutting off its own answers.
//
// The SDK (smithy-go) wraps each request body in a "safe" reader and
// closes it as soon as the HTTP client returns the response, which it
// does when the answer's headers arrive. net/http may not be done with the
// body by then: its connection's writer goroutine sends the headers, then
// the body straight to the socket, and then reads the body once more to
// check that nothing is left beyond Content-Length. When that goroutine is
// slow to run again after its write (a loaded machine), the server's
// answer arrives first, the SDK closes the body, and the closed body
// answers net/http's last read with io.EOF as an error (its WriteTo). net/http
// takes the request write as failed and closes the connection, under the
// answer still being read: the call fails with "deserialization failed,
// failed to decode response body, read tcp ...: use of closed network
// connection" although the server answered 200. For a ReceiveMessage,
// whose messages the queue has already hidden, that is a lost batch.
//
// APIOption hands net/http the body without its WriteTo: once closed, it
// reads as a plain io.EOF, the end of the body, which is what net/http
// expects when nothing is left.
package awsbody

import (
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// APIOption is an entry for aws.Config.APIOptions. It adds its step only to
// the stacks of SDK operations (those that serialize a request): a stack
// without one, such as the one ddblean probes the options with, is left
// as it is.
func APIOption(st *middleware.Stack) error {
	if _, ok := st.Serialize.Get("OperationSerializer"); !ok {
		return nil
	}
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("PlainRequestBody", plainBody), middleware.After)
}

// plainBody runs on every attempt, after the retries' rewind and the
// signature: it gives the request a stream that can be read and rewound
// but has no WriteTo.
func plainBody(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleFinalize(ctx, in)
	}
	if s, ok := req.GetStream().(interface {
		io.ReadSeeker
		io.WriterTo
	}); ok {
		r, err := req.SetStream(readSeeker{s})
		if err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		in.Request = r
	}
	return next.HandleFinalize(ctx, in)
}

// readSeeker is a stream without the WriteTo of the one it wraps.
type readSeeker struct{ io.ReadSeeker }
