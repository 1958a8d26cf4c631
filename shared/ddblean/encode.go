package ddblean

import (
	"encoding/base64"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/jsonappend"
)

// The hand-written request encoders: DynamoDB's JSON protocol for the
// members the stores use. An input with any other member set (the legacy
// parameters: AttributesToGet, Expected, KeyConditions, …) is left to the
// SDK's serialiser. lean_test.go checks both give the same JSON, and that
// each input type still has exactly the members listed here.

// jw appends JSON.
type jw struct {
	b     []byte
	first bool
}

func (w *jw) open() { w.b = append(w.b, '{'); w.first = true }
func (w *jw) close() {
	w.b = append(w.b, '}')
	w.first = false
}

func (w *jw) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...) // member names need no escaping
	w.b = append(w.b, '"', ':')
}

func (w *jw) str(k string, v *string) {
	if v != nil {
		w.key(k)
		w.b = appendString(w.b, *v)
	}
}

func (w *jw) enum(k, v string) {
	if v != "" {
		w.key(k)
		w.b = appendString(w.b, v)
	}
}

func (w *jw) boolean(k string, v *bool) {
	if v != nil {
		w.key(k)
		w.b = strconv.AppendBool(w.b, *v)
	}
}

func (w *jw) int32(k string, v *int32) {
	if v != nil {
		w.key(k)
		w.b = strconv.AppendInt(w.b, int64(*v), 10)
	}
}

func (w *jw) names(k string, m map[string]string) {
	if m == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, '{')
	i := 0
	for n, v := range m {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		i++
		w.b = appendString(w.b, n)
		w.b = append(w.b, ':')
		w.b = appendString(w.b, v)
	}
	w.b = append(w.b, '}')
}

func (w *jw) item(k string, m map[string]types.AttributeValue) bool {
	if m == nil {
		return true
	}
	w.key(k)
	var ok bool
	w.b, ok = appendAVMap(w.b, m)
	return ok
}

func appendAVMap(b []byte, m map[string]types.AttributeValue) ([]byte, bool) {
	b = append(b, '{')
	i := 0
	var ok bool
	for k, v := range m {
		if i > 0 {
			b = append(b, ',')
		}
		i++
		b = appendString(b, k)
		b = append(b, ':')
		if b, ok = appendAV(b, v); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendAV appends one AttributeValue; false for a value it does not know
// (nil, an unknown union member).
func appendAV(b []byte, v types.AttributeValue) ([]byte, bool) {
	var ok bool
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		b = append(b, `{"S":`...)
		b = appendString(b, v.Value)
	case *types.AttributeValueMemberN:
		b = append(b, `{"N":`...)
		b = appendString(b, v.Value)
	case *types.AttributeValueMemberBOOL:
		b = append(b, `{"BOOL":`...)
		b = strconv.AppendBool(b, v.Value)
	case *types.AttributeValueMemberNULL:
		b = append(b, `{"NULL":`...)
		b = strconv.AppendBool(b, v.Value)
	case *types.AttributeValueMemberB:
		b = append(b, `{"B":`...)
		b = appendBytes(b, v.Value)
	case *types.AttributeValueMemberSS:
		b = append(b, `{"SS":[`...)
		for i, s := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberNS:
		b = append(b, `{"NS":[`...)
		for i, s := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberBS:
		b = append(b, `{"BS":[`...)
		for i, s := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBytes(b, s)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberL:
		b = append(b, `{"L":[`...)
		for i, e := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendAV(b, e); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	case *types.AttributeValueMemberM:
		b = append(b, `{"M":`...)
		if b, ok = appendAVMap(b, v.Value); !ok {
			return b, false
		}
	default:
		return b, false
	}
	return append(b, '}'), true
}

func appendBytes(b, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// appendString appends s as a JSON string, escaped as encoding/json does
// (without its HTML escaping, as the SDK's encoder).
func appendString(b []byte, s string) []byte { return jsonappend.String(b, s) }
