package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// MaxBodyBytes is the largest request body any route accepts.
const MaxBodyBytes = 256 << 10

// ReadBody reads the request body, refusing more than MaxBodyBytes and any
// content type but JSON. An empty Content-Type is accepted (PHP's
// file_get_contents clients often send none).
func ReadBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, apperr.BadRequest("Content-Type must be application/json, not %q.", ct)
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, apperr.BadRequest("Could not read the request body.")
	}
	if len(b) > MaxBodyBytes {
		return nil, apperr.TooLarge("Request body is too large (max 256 KB).")
	}
	return b, nil
}

// DecodeJSON reads the body and decodes it into dst. With closed set,
// unknown fields are refused. Every failure is an apperr.KindInvalid naming the problem.
func DecodeJSON(r *http.Request, dst any, closed bool) error {
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	return Unmarshal(b, dst, closed)
}

// Unmarshal decodes one JSON value from b into dst with DecodeJSON's rules:
// an empty or null body, a string that is not UTF-8 or holds a NUL
// (checkText) and, with closed, an unknown field are refused, naming it.
func Unmarshal(b []byte, dst any, closed bool) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return apperr.BadRequest("Request body is empty; a JSON body is required.")
	}
	if string(bytes.TrimSpace(b)) == "null" {
		return apperr.BadRequest("Request body is null; a JSON body is required.")
	}
	if err := checkText(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if closed {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return apperr.BadRequest("%s", describeJSONError(err))
	}
	if dec.More() {
		return apperr.BadRequest("Malformed JSON: unexpected data after the JSON value.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.BadRequest("Malformed JSON: unexpected data after the JSON value.")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Malformed JSON at byte %d: %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		want := jsonKind(typ.Type.Kind().String())
		if strings.HasPrefix(typ.Value, "number ") {
			// A number that does not fit the field: a fraction for an
			// integer, a negative for an unsigned, or out of range.
			want, typ.Value = want+" in range", strings.TrimPrefix(typ.Value, "number ")
		}
		if typ.Field == "" {
			return fmt.Sprintf("Request body must be %s, not %s.", want, typ.Value)
		}
		return fmt.Sprintf("Field %q must be %s, not %s.", typ.Field, want, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "Malformed JSON: the body ends too early."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return "Malformed JSON: " + err.Error() + "."
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64":
		return "a whole number"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number from 0"
	case "float32", "float64":
		return "a number"
	default:
		return "of another type"
	}
}
