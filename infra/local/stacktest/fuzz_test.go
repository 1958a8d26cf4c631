package stacktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/routes"
)

// The property every route keeps, whatever it is sent: never a 5xx, and
// every error in the envelope ({"status":"error","message":…,"data":[]})
// with a status the OpenAPI document declares for the route.
//
// FuzzRoutes sends a route of routes.Table (by function name; any other
// string picks one by its hash) a path ID, a body, a
// credential (by index) and a raw header value. Under `go test` it runs
// its seed corpus: a case per route and malformed piece (IDs, bodies,
// headers), a fixed number of generated combinations, and the files in
// testdata/fuzz/FuzzRoutes; `make fuzz` lets the fuzzing engine loose on it.

// fuzzIDs are path parameter values; "@" stands for a real ID of the
// parameter's kind (the test tenant's, its channel's) or a well-formed
// unknown one.
var fuzzIDs = []string{
	"@",
	"x",
	strings.Repeat("1", 1020),
	strings.Repeat("a", 4000),
	"\x00",
	"a\x01b",
	"\xff\xfe",
	"%",
	"..",
	"a b",
	"#1",
	"123456789012345",
	"TEN_ABC",
	"conn_ABC",
	"msg_" + strings.Repeat("0", 70),
	strings.Repeat("😀", 300),
	"ten_sample",
	"MTIzNDU2Nzg5MDEyMzQ1", // Base64 of a contact ID
}

// fuzzBodies are request bodies (nil: none).
var fuzzBodies = [][]byte{
	nil,
	[]byte(""),
	[]byte("null"),
	[]byte("{}"),
	[]byte("[]"),
	[]byte(`"x"`),
	[]byte("{"),
	[]byte("\xff"),
	[]byte(`{"name":"a\u0000b"}`),
	[]byte("{\"name\":\"a\xffb\"}"),
	[]byte(`{"name":"\ud800"}`),
	[]byte(`{"custom_fields":[{"name":"firstName","value":"a\u0000"}]}`),
	[]byte(`{"tags":["\udfff"]}`),
	[]byte(`{"unknown":1}`),
	[]byte(`{"name":1e999}`),
	[]byte(`[{"type":"NEW","Fname":"\u0000"}]`),
	[]byte(`{"psid":"` + strings.Repeat("9", 2000) + `","field":"email","value":"a@b.co"}`),
	[]byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)),
	[]byte(`{"name":"` + strings.Repeat("é", 140000) + `"}`),
	[]byte(`{"target_url":"http://127.0.0.1:1/x","event":"email","extra":true}`),
}

// Credentials by index: none, the channel token, the account secret, the
// admin key, an unknown token.
const (
	credNone = iota
	credChannel
	credAccount
	credAdmin
	credUnknown
	numCreds
)

// fuzzHeaders are raw header values sent as Authorization when given
// (control bytes included: net/http's server refuses them itself).
var fuzzHeaders = []string{
	"",
	"Bearer a\x01b",
	"Bearer \x00",
	"\x7f",
	"Bearer " + strings.Repeat("x", 5000),
	"Basic Zm9vOmJhcg==",
}

func credFor(a routes.Auth) uint8 {
	switch a {
	case routes.AuthChannel, routes.AuthChannelQuery, routes.AuthChannelOrAccount:
		return credChannel
	case routes.AuthAccount:
		return credAccount
	case routes.AuthAdmin:
		return credAdmin
	}
	return credNone
}

// generatedCases is how many random combinations of the pieces above the
// seed corpus holds (a fixed seed: the same cases every run).
const generatedCases = 120

func FuzzRoutes(f *testing.F) {
	for _, r := range routes.Table {
		ri, cred := r.Function, credFor(r.Auth)
		if len(r.PathParams()) > 0 {
			for _, id := range fuzzIDs {
				f.Add(ri, id, []byte(nil), cred, "")
			}
		}
		if r.Body {
			for _, b := range fuzzBodies {
				f.Add(ri, "@", b, cred, "")
			}
		}
		for _, h := range fuzzHeaders {
			f.Add(ri, "@", []byte(nil), cred, h)
		}
		for c := range uint8(numCreds) {
			f.Add(ri, "@", []byte("{}"), c, "")
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range generatedCases {
		body := fuzzBodies[rng.IntN(len(fuzzBodies))]
		if rng.IntN(3) == 0 && len(body) > 0 {
			body = bytes.Clone(body)
			body[rng.IntN(len(body))] = byte(rng.IntN(256))
		}
		f.Add(routes.Table[rng.IntN(len(routes.Table))].Function, fuzzIDs[rng.IntN(len(fuzzIDs))], body,
			uint8(rng.IntN(numCreds)), fuzzHeaders[rng.IntN(len(fuzzHeaders))])
	}

	s := New(f)
	ten := s.NewTenant("Fuzz", "messenger")
	creds := [numCreds]string{"", "Bearer " + ten.Token, ten.Secret, "Bearer " + AdminKey, "Bearer ct_" + strings.Repeat("q", 52)}
	known := map[string]string{"tenantId": ten.ID, "channelId": ten.ChannelID}
	n := 0
	f.Fuzz(func(t *testing.T, route string, id string, body []byte, cred uint8, header string) {
		s.T = t
		if n++; n%50 == 0 {
			s.Clock.Add(time.Minute) // keep under the rate limit
		}
		r, ok := routes.ByFunction(route)
		if !ok {
			h := fnv.New32a()
			h.Write([]byte(route))
			r = routes.Table[int(h.Sum32()%uint32(len(routes.Table)))]
		}
		path := r.Path
		for _, p := range r.PathParams() {
			v := id
			if v == "@" {
				v = known[p]
				if v == "" {
					v = wellFormed(p)
				}
			}
			path = strings.Replace(path, "{"+p+"}", url.PathEscape(v), 1)
		}
		auth := creds[int(cred)%numCreds]
		if header != "" {
			auth = header
		}
		s.fuzzCheck(r.Method, path, auth, body)
	})
}

// wellFormed is an ID of the parameter's form that names nothing.
func wellFormed(param string) string {
	switch param {
	case "contactId":
		return "100000000000001"
	case "fieldId":
		return "4242"
	case "connectionId", "hookId":
		return "conn_aaaaaaaaaaaaaaaa"
	case "webhookId", "deliveryId":
		return "msg_aaaaaaaaaaaaaaaa"
	case "tenantId":
		return "ten_aaaaaaaaaaaaaaaa"
	case "channelId":
		return "ch_aaaaaaaaaaaaaaaa"
	case "tokenId":
		return "tok_aaaaaaaaaaaaaaaa"
	}
	return "x"
}

// fuzzCheck sends one request as raw bytes (so that header values no
// client would send reach the server) and checks the answer: never a 5xx,
// errors in the envelope, and, for what reaches a route, the document's
// contract.
func (s *Stack) fuzzCheck(method, path, auth string, body []byte) {
	s.T.Helper()
	res, err := s.rawRequest(method, path, auth, body)
	if err != nil {
		s.T.Fatalf("%s %.200q: %v", method, path, err)
	}
	desc := fmt.Sprintf("%s %.200q (Authorization %.40q, body %.80q)", method, path, auth, body)
	if res.Status >= 500 {
		s.T.Fatalf("%s: answered %d: %.300s", desc, res.Status, res.Body)
	}
	if res.Status >= 400 {
		var env struct {
			Status  string          `json:"status"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			s.T.Fatalf("%s: %d with Content-Type %q: %.300s", desc, res.Status, ct, res.Body)
		}
		if err := json.Unmarshal(res.Body, &env); err != nil || env.Status != "error" || env.Message == "" || string(env.Data) != "[]" {
			s.T.Fatalf("%s: %d not in the envelope: %.300s", desc, res.Status, res.Body)
		}
	}
	if !validHeaderValue(auth) {
		return // answered by the server before any route: no contract applies
	}
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		s.T.Fatal(err)
	}
	s.checkContract(req, res)
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// rawRequest writes one HTTP/1.1 request to the stack's listener and reads
// the answer. CR and LF are dropped from auth (they would end the header).
func (s *Stack) rawRequest(method, path, auth string, body []byte) (Response, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return Response{}, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n")
	if auth = strings.NewReplacer("\r", "", "\n", "").Replace(auth); auth != "" {
		b.WriteString("Authorization: " + auth + "\r\n")
	}
	if len(body) > 0 {
		b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := conn.Write(b.Bytes()); err != nil {
		return Response{}, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: res.StatusCode, Header: res.Header, Body: out}
	_ = json.Unmarshal(out, &r.JSON)
	return r, nil
}

// TestAuthorizationControlByte: a header value net/http's server refuses
// before any handler runs is answered in the envelope, as every error is.
func TestAuthorizationControlByte(t *testing.T) {
	s := New(t)
	res, err := s.rawRequest("GET", "/v1/me", "Bearer ct_a\x01b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/json" ||
		res.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(res.JSON["message"]), "header") {
		t.Fatalf("%d %v: %s", res.Status, res.Header, res.Body)
	}
	if d, ok := res.JSON["data"].([]any); !ok || len(d) != 0 {
		t.Fatalf("data must be []: %s", res.Body)
	}
}
