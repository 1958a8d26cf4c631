package api

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// wrkPrelude is what wrk gives a script before loading it (wrk's own
// wrk.lua, to the letter where the scripts touch it): the wrk table with
// the URL's defaults and wrk.format, which builds one raw HTTP/1.1 request.
const wrkPrelude = `
wrk = {
  scheme = "http", host = "127.0.0.1", port = 8080,
  method = "GET", path = "/", headers = {}, body = nil,
}
wrk.headers["Host"] = "127.0.0.1:8080"

function wrk.format(method, path, headers, body)
  local method  = method  or wrk.method
  local path    = path    or wrk.path
  local headers = headers or wrk.headers
  local body    = body    or wrk.body
  local s       = {}

  if not headers["Host"] then
    headers["Host"] = wrk.headers["Host"]
  end

  headers["Content-Length"] = body and string.len(body)

  s[1] = string.format("%s %s HTTP/1.1", method, path)
  for name, value in pairs(headers) do
    s[#s+1] = string.format("%s: %s", name, value)
  end

  s[#s+1] = ""
  s[#s+1] = body or ""

  return table.concat(s, "\r\n")
end
`

// luaWrk runs a wrk script as wrk does, in an embedded Lua 5.1: one Lua
// state per thread loaded with the script, setup(thread) called in the main
// state for each thread in creation order (thread:set sets a global in that
// thread's state), then request() for each request a thread sends.
type luaWrk struct {
	t       *testing.T
	main    *lua.LState
	threads []*lua.LState
}

func newLuaWrk(t *testing.T, script string, threads int) *luaWrk {
	t.Helper()
	load := func() *lua.LState {
		L := lua.NewState()
		t.Cleanup(L.Close)
		if err := L.DoString(wrkPrelude); err != nil {
			t.Fatal(err)
		}
		if err := L.DoString(script); err != nil {
			t.Fatalf("script does not load: %v\n%s", err, script)
		}
		return L
	}
	w := &luaWrk{t: t, main: load()}
	for range threads {
		w.threads = append(w.threads, load())
	}
	setup := w.main.GetGlobal("setup")
	for _, tl := range w.threads {
		if setup == lua.LNil {
			break
		}
		thread := w.main.NewTable()
		w.main.SetField(thread, "set", w.main.NewFunction(func(L *lua.LState) int {
			name, v := L.CheckString(2), L.Get(3)
			switch v := v.(type) {
			case lua.LNumber, lua.LString, lua.LBool:
				tl.SetGlobal(name, v)
			default:
				L.RaiseError("thread:set(%q): wrk copies only numbers, strings and booleans, got %s", name, v.Type())
			}
			return 0
		}))
		if err := w.main.CallByParam(lua.P{Fn: setup, NRet: 0, Protect: true}, thread); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	return w
}

// request calls thread k's request() and parses the raw request it returns.
func (w *luaWrk) request(k int) (*http.Request, string) {
	w.t.Helper()
	L := w.threads[k]
	if err := L.CallByParam(lua.P{Fn: L.GetGlobal("request"), NRet: 1, Protect: true}); err != nil {
		w.t.Fatalf("request(): %v", err)
	}
	raw := L.Get(-1)
	L.Pop(1)
	s, ok := raw.(lua.LString)
	if !ok {
		w.t.Fatalf("request() returned %s, want a string", raw.Type())
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(s))))
	if err != nil {
		w.t.Fatalf("request() is not an HTTP request: %v\n%q", err, s)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.t.Fatalf("request body: %v", err)
	}
	return req, string(body)
}

// TestScriptsInLua runs the generated scripts as wrk would (make test has
// no wrk binary; make bench also runs them in wrk, TestScriptsWithWrk):
// every token is used by one thread only and at most perToken times in a
// row, tokens wrap around when they run out, and the static request
// arrives as written.
func TestScriptsInLua(t *testing.T) {
	const perToken, threads = 50, 2
	tokens := make([]string, 4000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("ct_%06d", i)
	}
	w := newLuaWrk(t, GatewayScript("/v1/contact/42", tokens, perToken, threads), threads)
	const perThread = 30000 // 600 tokens per thread of 2000 available
	owner := map[string]int{}
	uses := map[string]int{}
	for k := range threads {
		last, run := "", 0
		for range perThread {
			req, _ := w.request(k)
			if req.Method != http.MethodGet || req.URL.Path != "/v1/contact/42" || req.Host != "127.0.0.1:8080" {
				t.Fatalf("thread %d sent %s %s (Host %q)", k, req.Method, req.URL, req.Host)
			}
			tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
			if !ok {
				t.Fatalf("thread %d: Authorization %q", k, req.Header.Get("Authorization"))
			}
			if o, seen := owner[tok]; seen && o != k {
				t.Fatalf("token %s used by threads %d and %d", tok, o, k)
			}
			owner[tok] = k
			uses[tok]++
			if tok == last {
				run++
			} else {
				if last != "" && run != perToken {
					t.Fatalf("thread %d used %s %d times in a row, want %d", k, last, run, perToken)
				}
				last, run = tok, 1
			}
		}
	}
	if len(uses) != threads*perThread/perToken {
		t.Errorf("%d tokens used, want %d", len(uses), threads*perThread/perToken)
	}
	for tok, n := range uses {
		if n != perToken {
			t.Errorf("token %s used %d times, want %d", tok, n, perToken)
		}
	}

	// Past the last token the threads wrap around: 3 tokens, 2 threads,
	// 2 requests each.
	w = newLuaWrk(t, GatewayScript("/x", []string{"a", "b", "c"}, 2, 2), 2)
	var got [2][]string
	for k := range 2 {
		for range 8 {
			req, _ := w.request(k)
			got[k] = append(got[k], strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
		}
	}
	// Thread 0 takes slots 0, 2, 4, 6 (tokens a, c, b, a); thread 1 slots
	// 1, 3, 5, 7 (b, a, c, b).
	if want := "a a c c b b a a"; strings.Join(got[0], " ") != want {
		t.Errorf("thread 0 tokens %v, want %s", got[0], want)
	}
	if want := "b b a a c c b b"; strings.Join(got[1], " ") != want {
		t.Errorf("thread 1 tokens %v, want %s", got[1], want)
	}

	// A token with a quote, backslash or newline reaches the header intact
	// (an unescaped one would not load or would split the header).
	w = newLuaWrk(t, GatewayScript(`/p"q\`, []string{`t"\é`}, 1, 1), 1)
	if req, _ := w.request(0); req.Header.Get("Authorization") != `Bearer t"\é` || req.RequestURI != `/p"q\` {
		t.Errorf("escaping: %q %q", req.RequestURI, req.Header.Get("Authorization"))
	}

	s := StaticScript("POST", "/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.GetItem", "Authorization": "AWS4-HMAC-SHA256 x"}, `{"a":1}`)
	w = newLuaWrk(t, s, 2)
	for k := range 2 {
		for range 3 {
			req, body := w.request(k)
			if req.Method != http.MethodPost || req.URL.Path != "/" || req.Header.Get("X-Amz-Target") != "DynamoDB_20120810.GetItem" ||
				req.Header.Get("Authorization") != "AWS4-HMAC-SHA256 x" || body != `{"a":1}` || req.ContentLength != 7 {
				t.Fatalf("static request: %s %s %v %q", req.Method, req.URL, req.Header, body)
			}
		}
	}
}
