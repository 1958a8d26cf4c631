package lambdaapp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/jsonappend"
)

// Invoker is an API route's Lambda handler as the Lambda runtime calls it
// (lambda.Handler): the proxy event's JSON in, the response's JSON out.
// aws-lambda-go would decode the event with encoding/json through
// reflection; Invoker reads it with decodeEvent, a single pass over the
// fields API Gateway sends, and encodes the response as the runtime
// does (appendResponse). Whatever
// decodeEvent does not cover exactly as encoding/json would (a key that
// differs only in case from a field, a map field given twice, a number
// that is not an integer where one is expected, a string with escapes or
// invalid UTF-8 is handed to encoding/json for that value) falls back to
// encoding/json for the whole event, so the handler sees the same event
// either way (FuzzDecodeEvent compares the two).
type Invoker struct{ H ProxyHandler }

// Invoke implements lambda.Handler.
func (v Invoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayProxyRequest
	if err := decodeEvent(payload, &ev); err != nil {
		ev = events.APIGatewayProxyRequest{}
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
	}
	res, err := v.H(ctx, ev)
	if err != nil {
		return nil, err
	}
	return appendResponse(make([]byte, 0, 256+len(res.Body)+len(res.Body)/8), &res), nil
}

// appendResponse appends res as the Lambda runtime encodes a handler's
// answer: encoding/json without HTML escaping, a newline after it (the
// tests compare the two).
func appendResponse(b []byte, res *events.APIGatewayProxyResponse) []byte {
	b = append(b, `{"statusCode":`...)
	b = jsonappend.Int(b, int64(res.StatusCode))
	b = append(b, `,"headers":`...)
	b = jsonappend.StringMap(b, res.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = jsonappend.StringsMap(b, res.MultiValueHeaders)
	b = append(b, `,"body":`...)
	b = jsonappend.String(b, res.Body)
	if res.IsBase64Encoded {
		b = append(b, `,"isBase64Encoded":true`...)
	}
	return append(b, "}\n"...)
}

// errFallback: decodeEvent does not cover the input; encoding/json does.
var errFallback = errors.New("lambdaapp: event left to encoding/json")

// decodeEvent decodes an API Gateway proxy event into ev (zero), or
// returns errFallback.
func decodeEvent(b []byte, ev *events.APIGatewayProxyRequest) error {
	d := &evDec{b: b, s: string(b)}
	if err := d.event(ev); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.b) {
		return errFallback
	}
	return nil
}

type evDec struct {
	b []byte
	// s is b as one string: the event's strings are slices of it, one
	// allocation for all of them.
	s     string
	i     int
	depth int
}

// maxSkipDepth bounds the nesting of the values skip reads over.
const maxSkipDepth = 1000

func (d *evDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// lit consumes the literal s (after spaces) if it is next.
func (d *evDec) lit(s string) bool {
	d.ws()
	if len(d.b)-d.i < len(s) {
		return false
	}
	for j := range len(s) {
		if d.b[d.i+j] != s[j] {
			return false
		}
	}
	d.i += len(s)
	return true
}

func (d *evDec) next() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object reads an object's members, calling member for each key with the
// decoder at its value; null is no object (member never called).
func (d *evDec) object(member func(key string) error) error {
	if d.lit("null") {
		return nil
	}
	if d.next() != '{' {
		return errFallback
	}
	d.i++
	if d.next() == '}' {
		d.i++
		return nil
	}
	for {
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.next() != ':' {
			return errFallback
		}
		d.i++
		if err := member(key); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return errFallback
		}
	}
}

// str reads a string; one with escapes or bytes outside ASCII that are
// not valid UTF-8 is decoded by encoding/json.
func (d *evDec) str() (string, error) {
	if d.next() != '"' {
		return "", errFallback
	}
	start := d.i
	d.i++
	plain := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if plain {
				return d.s[start+1 : d.i-1], nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", errFallback
			}
			return s, nil
		case c == '\\':
			plain = false
			d.i += 2
		case c < 0x20:
			return "", errFallback
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			d.i += size
		default:
			d.i++
		}
	}
	return "", errFallback
}

// strInto reads a string into s; null leaves s as it is (encoding/json
// does).
func (d *evDec) strInto(s *string) error {
	if d.lit("null") {
		return nil
	}
	v, err := d.str()
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (d *evDec) strMap(m *map[string]string) error {
	if *m != nil {
		return errFallback // given twice: encoding/json merges
	}
	if d.lit("null") {
		return nil
	}
	out := map[string]string{}
	err := d.object(func(k string) error {
		if d.lit("null") {
			out[k] = ""
			return nil
		}
		v, err := d.str()
		out[k] = v
		return err
	})
	*m = out
	return err
}

func (d *evDec) strsMap(m *map[string][]string) error {
	if *m != nil {
		return errFallback
	}
	if d.lit("null") {
		return nil
	}
	out := map[string][]string{}
	err := d.object(func(k string) error {
		if d.lit("null") {
			out[k] = nil
			return nil
		}
		if d.next() != '[' {
			return errFallback
		}
		d.i++
		vs := []string{}
		if d.next() == ']' {
			d.i++
			out[k] = vs
			return nil
		}
		for {
			v, err := d.str()
			if err != nil {
				return err
			}
			vs = append(vs, v)
			switch d.next() {
			case ',':
				d.i++
			case ']':
				d.i++
				out[k] = vs
				return nil
			default:
				return errFallback
			}
		}
	})
	*m = out
	return err
}

// anyMap reads the authorizer's context: strings, numbers, booleans and
// nulls by hand, objects and arrays by encoding/json.
func (d *evDec) anyMap(m *map[string]any) error {
	if *m != nil {
		return errFallback
	}
	if d.lit("null") {
		return nil
	}
	out := map[string]any{}
	err := d.object(func(k string) error {
		switch c := d.next(); {
		case c == '"':
			v, err := d.str()
			out[k] = v
			return err
		case c == 't' || c == 'f' || c == 'n':
			switch {
			case d.lit("true"):
				out[k] = true
			case d.lit("false"):
				out[k] = false
			case d.lit("null"):
				out[k] = nil
			default:
				return errFallback
			}
			return nil
		case c == '-' || ('0' <= c && c <= '9'):
			num, ok := d.number()
			if !ok {
				return errFallback
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return errFallback
			}
			out[k] = f
			return nil
		default:
			return errFallback
		}
	})
	*m = out
	return err
}

// number reads a JSON number's text.
func (d *evDec) number() (string, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return "", false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return "", false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return string(d.b[start:d.i]), true
}

// skip reads over any value, checking its syntax.
func (d *evDec) skip() error {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxSkipDepth {
		return errFallback
	}
	switch c := d.next(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		d.i++
		if d.next() == ']' {
			d.i++
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			switch d.next() {
			case ',':
				d.i++
			case ']':
				d.i++
				return nil
			default:
				return errFallback
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		if _, ok := d.number(); !ok {
			return errFallback
		}
		return nil
	case d.lit("true"), d.lit("false"), d.lit("null"):
		return nil
	}
	return errFallback
}

// unknown skips the value of a key that is no field; a key that matches a
// field but for case would be that field for encoding/json (so would one
// with a byte outside ASCII, which Unicode case folding may map to one).
// fields are the object's field names in lower case, each between commas.
func (d *evDec) unknown(key, fields string) error {
	var buf [40]byte
	if len(key)+2 > len(buf) {
		return d.skip() // longer than any field name
	}
	b := append(buf[:0], ',')
	for i := range len(key) {
		c := key[i]
		if c >= utf8.RuneSelf {
			return errFallback
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, ',')
	if strings.Contains(fields, string(b)) {
		return errFallback
	}
	return d.skip()
}

// The fields of the event, its request context and its identity, lower
// case, between commas (for unknown).
const (
	eventFields    = ",resource,path,httpmethod,headers,multivalueheaders,querystringparameters,multivaluequerystringparameters,pathparameters,stagevariables,requestcontext,body,isbase64encoded,"
	contextFields  = ",accountid,resourceid,operationname,stage,domainname,domainprefix,requestid,extendedrequestid,protocol,identity,resourcepath,path,authorizer,httpmethod,requesttime,requesttimeepoch,apiid,"
	identityFields = ",cognitoidentitypoolid,accountid,cognitoidentityid,caller,apikey,apikeyid,accesskey,sourceip,cognitoauthenticationtype,cognitoauthenticationprovider,userarn,useragent,user,clientcert,"
)

func (d *evDec) event(ev *events.APIGatewayProxyRequest) error {
	if d.next() != '{' {
		return errFallback // null, or not an object
	}
	return d.object(func(k string) error {
		switch k {
		case "resource":
			return d.strInto(&ev.Resource)
		case "path":
			return d.strInto(&ev.Path)
		case "httpMethod":
			return d.strInto(&ev.HTTPMethod)
		case "headers":
			return d.strMap(&ev.Headers)
		case "multiValueHeaders":
			return d.strsMap(&ev.MultiValueHeaders)
		case "queryStringParameters":
			return d.strMap(&ev.QueryStringParameters)
		case "multiValueQueryStringParameters":
			return d.strsMap(&ev.MultiValueQueryStringParameters)
		case "pathParameters":
			return d.strMap(&ev.PathParameters)
		case "stageVariables":
			return d.strMap(&ev.StageVariables)
		case "requestContext":
			return d.requestContext(&ev.RequestContext)
		case "body":
			return d.strInto(&ev.Body)
		case "isBase64Encoded":
			return d.boolInto(&ev.IsBase64Encoded)
		}
		return d.unknown(k, eventFields)
	})
}

func (d *evDec) boolInto(v *bool) error {
	switch {
	case d.lit("true"):
		*v = true
	case d.lit("false"):
		*v = false
	case d.lit("null"):
	default:
		return errFallback
	}
	return nil
}

func (d *evDec) requestContext(rc *events.APIGatewayProxyRequestContext) error {
	return d.object(func(k string) error {
		switch k {
		case "accountId":
			return d.strInto(&rc.AccountID)
		case "resourceId":
			return d.strInto(&rc.ResourceID)
		case "operationName":
			return d.strInto(&rc.OperationName)
		case "stage":
			return d.strInto(&rc.Stage)
		case "domainName":
			return d.strInto(&rc.DomainName)
		case "domainPrefix":
			return d.strInto(&rc.DomainPrefix)
		case "requestId":
			return d.strInto(&rc.RequestID)
		case "extendedRequestId":
			return d.strInto(&rc.ExtendedRequestID)
		case "protocol":
			return d.strInto(&rc.Protocol)
		case "identity":
			return d.identity(&rc.Identity)
		case "resourcePath":
			return d.strInto(&rc.ResourcePath)
		case "path":
			return d.strInto(&rc.Path)
		case "authorizer":
			return d.anyMap(&rc.Authorizer)
		case "httpMethod":
			return d.strInto(&rc.HTTPMethod)
		case "requestTime":
			return d.strInto(&rc.RequestTime)
		case "requestTimeEpoch":
			if d.lit("null") {
				return nil
			}
			num, ok := d.number()
			if !ok {
				return errFallback
			}
			v, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return errFallback // a fraction, an exponent, out of range
			}
			rc.RequestTimeEpoch = v
			return nil
		case "apiId":
			return d.strInto(&rc.APIID)
		}
		return d.unknown(k, contextFields)
	})
}

func (d *evDec) identity(id *events.APIGatewayRequestIdentity) error {
	return d.object(func(k string) error {
		switch k {
		case "cognitoIdentityPoolId":
			return d.strInto(&id.CognitoIdentityPoolID)
		case "accountId":
			return d.strInto(&id.AccountID)
		case "cognitoIdentityId":
			return d.strInto(&id.CognitoIdentityID)
		case "caller":
			return d.strInto(&id.Caller)
		case "apiKey":
			return d.strInto(&id.APIKey)
		case "apiKeyId":
			return d.strInto(&id.APIKeyID)
		case "accessKey":
			return d.strInto(&id.AccessKey)
		case "sourceIp":
			return d.strInto(&id.SourceIP)
		case "cognitoAuthenticationType":
			return d.strInto(&id.CognitoAuthenticationType)
		case "cognitoAuthenticationProvider":
			return d.strInto(&id.CognitoAuthenticationProvider)
		case "userArn":
			return d.strInto(&id.UserArn)
		case "userAgent":
			return d.strInto(&id.UserAgent)
		case "user":
			return d.strInto(&id.User)
		case "clientCert":
			if id.ClientCert != nil {
				return errFallback
			}
			start := d.i
			if err := d.skip(); err != nil {
				return err
			}
			if err := json.Unmarshal(d.b[start:d.i], &id.ClientCert); err != nil {
				return errFallback
			}
			return nil
		}
		return d.unknown(k, identityFields)
	})
}
