// Package providertest is a messaging provider for tests: an HTTP server on
// loopback that answers send requests in the Cloud API's shapes (POST
// /{account}/messages, {"messages":[{"id":"wamid…"}]} or {"error":{…}}),
// from a script of answers, and records what it got; and a Client, the
// sender.Provider that calls it over HTTP and reads its answers as a
// provider client does. Tests of the sender run the real path: a real
// HTTP call, a real status code, a real error body.
package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
)

// Answer is one scripted answer: an HTTP status with an error body, or
// (Status 0 or 200) acceptance with a fresh id.
type Answer struct {
	Status     int
	Code       int    // error.code
	Message    string // error.message
	RetryAfter int    // Retry-After seconds (0: none)
	Delay      time.Duration
}

// Request is a send request the server received.
type Request struct {
	Account, Auth string
	Body          map[string]any
	ID            string // the id answered ("" when refused)
}

// Server is the test provider.
type Server struct {
	URL string
	mu  sync.Mutex
	// script answers the calls in order; when it runs out, calls are
	// accepted.
	script []Answer
	got    []Request
	seq    int
}

// New starts a server for the test.
func New(t testing.TB) *Server {
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Script sets the answers of the next calls.
func (s *Server) Script(as ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, as...)
}

// Requests returns what the server received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.got...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || json.Unmarshal(b, &body) != nil {
		http.Error(w, `{"error":{"message":"bad request","code":100}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	a := Answer{}
	if len(s.script) > 0 {
		a, s.script = s.script[0], s.script[1:]
	}
	req := Request{Account: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body}
	if a.Status == 0 || a.Status == http.StatusOK {
		s.seq++
		req.ID = fmt.Sprintf("wamid.TEST%06d", s.seq)
	}
	s.got = append(s.got, req)
	s.mu.Unlock()
	if a.Delay > 0 {
		time.Sleep(a.Delay)
	}
	w.Header().Set("Content-Type", "application/json")
	if req.ID != "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp",
			"contacts": []any{map[string]any{"input": body["to"], "wa_id": body["to"]}}, "messages": []any{map[string]any{"id": req.ID}}})
		return
	}
	if a.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(a.RetryAfter))
	}
	w.WriteHeader(a.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": a.Message, "code": a.Code, "type": "OAuthException"}})
}

// Client is the sender.Provider that calls a Server (or anything that
// answers as it does) at the credentials' BaseURL.
type Client struct{ HTTP *http.Client }

// Send posts the message and reads the answer: 2xx with a message id is
// acceptance; 429 and 5xx are retryable refusals, other statuses final;
// the error body's code and message are the provider's.
func (c Client) Send(ctx context.Context, creds sender.Credentials, m messages.Message) (string, error) {
	body := map[string]any{"messaging_product": "whatsapp", "to": m.To, "type": string(m.Type)}
	switch {
	case m.Text != nil:
		body["text"] = map[string]any{"body": m.Text.Body}
	case m.Template != nil:
		body["template"] = map[string]any{"name": m.Template.Name, "language": map[string]any{"code": m.Template.Language}}
	case m.Media != nil:
		body["type"] = string(m.Media.Kind)
		body[string(m.Media.Kind)] = map[string]any{"link": m.Media.Link}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.BaseURL+"/"+creds.AccountID+"/messages", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode/100 == 2 && len(out.Messages) == 1 {
		return out.Messages[0].ID, nil
	}
	e := &sender.Error{HTTPStatus: res.StatusCode, Code: strconv.Itoa(out.Error.Code), Message: out.Error.Message,
		Retryable: res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && ra > 0 {
		e.RetryAfter = time.Duration(ra) * time.Second
	}
	return "", e
}
