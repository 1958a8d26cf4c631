package connector

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/webhook"
)

func post(t *testing.T, url, id, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if id != "" {
		req.Header.Set(webhook.HeaderID, id)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestSinkKeepsFirstArrivalPerWebhookID(t *testing.T) {
	clock := time.Unix(1000, 0)
	s := &Sink{Now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	srv := httptest.NewServer(s)
	defer srv.Close()
	reached := s.Reached(2)
	post(t, srv.URL, "msg_a", "{}")
	select {
	case <-reached:
		t.Fatal("reached 2 after one key")
	default:
	}
	post(t, srv.URL, "msg_a", "{}") // a retry of the same delivery
	post(t, srv.URL, "msg_b", "{}")
	select {
	case <-reached:
	case <-time.After(time.Second):
		t.Fatal("Reached(2) not closed after two keys")
	}
	distinct, requests, last := s.Counts()
	if distinct != 2 || requests != 3 {
		t.Fatalf("Counts = %d distinct, %d requests; want 2, 3", distinct, requests)
	}
	a, ok := s.Arrived("msg_a")
	if !ok || !a.Equal(time.Unix(1001, 0)) {
		t.Fatalf("Arrived(msg_a) = %v, %v; want the first request's time", a, ok)
	}
	if !last.Equal(time.Unix(1003, 0)) {
		t.Fatalf("last = %v, want 1003", last)
	}
	if n := s.Between(time.Unix(1002, 0), time.Unix(1003, 0)); n != 1 {
		t.Fatalf("Between = %d, want 1 (msg_b only)", n)
	}
	if ts := s.Times(); len(ts) != 2 || !ts[0].Before(ts[1]) {
		t.Fatalf("Times = %v, want two, oldest first", ts)
	}
	select {
	case <-s.Reached(1):
	default:
		t.Fatal("Reached(n) for n already reached must be closed")
	}
}

func TestSinkKeyFromBody(t *testing.T) {
	s := &Sink{Key: JSONField("email")}
	srv := httptest.NewServer(s)
	defer srv.Close()
	post(t, srv.URL, "msg_1", `{"psid":"1","email":"a@example.com"}`)
	post(t, srv.URL, "msg_2", `not json`)
	if _, ok := s.Arrived("a@example.com"); !ok {
		t.Error("keyed by the email in the body: missing")
	}
	if _, ok := s.Arrived("msg_2"); !ok {
		t.Error("a body without the field falls back to webhook-id: missing")
	}
}

func TestJSONField(t *testing.T) {
	f := JSONField("email")
	for body, want := range map[string]string{
		`{"email":"x@y"}`: "x@y",
		`{"email":3}`:     "",
		`[]`:              "",
		``:                "",
	} {
		if got := f([]byte(body)); got != want {
			t.Errorf("JSONField(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestHangNeverAnswers(t *testing.T) {
	h, err := NewHang()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err = c.Post(h.URL(), "application/json", strings.NewReader("{}"))
	if err == nil {
		t.Fatal("got an answer from the hanging target")
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("failed after %v, before the client's timeout: %v", d, err)
	}
	if h.Accepted() != 1 {
		t.Fatalf("Accepted = %d, want 1", h.Accepted())
	}
}
