package gateway

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strconv"
	"strings"
)

// API Gateway's payload compression (minimumCompressionSize set): request
// bodies sent with Content-Encoding gzip or deflate are decompressed
// before the function sees them, and a response body at least the minimum
// long is compressed with the client's preferred coding, when that is one
// API Gateway supports (gzip, deflate, identity).

// errTooLarge is a request body that decompresses past MaxPayload.
var errTooLarge = errors.New("too large")

// decodeBody decompresses body as its Content-Encoding says ("" and
// identity: as it is; an empty body stays empty).
func decodeBody(encoding string, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = zr
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some clients send it raw.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
	default:
		return nil, errors.New("unsupported")
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxPayload+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxPayload {
		return nil, errTooLarge
	}
	return out, nil
}

// preferredCoding is the coding the client's Accept-Encoding ranks first:
// the highest q, the first listed among equals ("": none listed, or the
// header refuses everything). "*" stands for gzip.
func preferredCoding(accept string) string {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if name == "*" {
			name = "gzip"
		}
		if q > bestQ {
			best, bestQ = name, q
		}
	}
	return best
}

// compressBody compresses body with the client's preferred coding when
// that is gzip or deflate and body is at least minSize long (minSize < 0:
// never); it returns the body to send and its Content-Encoding ("": as
// it is).
func compressBody(accept string, body []byte, minSize int) ([]byte, string) {
	if minSize < 0 || len(body) < minSize {
		return body, ""
	}
	var buf bytes.Buffer
	var w io.WriteCloser
	coding := preferredCoding(accept)
	switch coding {
	case "gzip", "x-gzip":
		coding, w = "gzip", gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	default:
		return body, ""
	}
	if _, err := w.Write(body); err != nil {
		return body, ""
	}
	if err := w.Close(); err != nil {
		return body, ""
	}
	return buf.Bytes(), coding
}
