package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
)

func TestRetryableClassification(t *testing.T) {
	cases := []struct {
		status, code int
		transient    bool
		want         bool
	}{
		{400, 131047, false, false}, // re-engagement
		{404, 132001, false, false}, // template does not exist
		{400, 131026, false, false}, // undeliverable
		{400, 100, false, false},    // invalid parameter
		{401, 190, false, false},    // token
		{500, 190, false, false},    // a permanent code wins over a 5xx
		{403, 200, false, false},    // permission codes 200-299
		{400, 130429, false, true},  // throughput
		{400, 131048, false, true},  // spam rate limit
		{400, 131056, false, true},  // pair rate limit
		{500, 131000, false, true},  // something went wrong
		{503, 131016, false, true},  // service unavailable
		{400, 4, false, true},       // app rate limit
		{400, 80007, false, true},
		{429, 0, false, true},
		{502, 0, false, true},
		{400, 0, false, false},
		{400, 999999, true, true}, // is_transient
		{400, 999999, false, false},
	}
	for _, c := range cases {
		if got := Classify(c.status, c.code, c.transient); got != c.want {
			t.Errorf("Classify(%d, %d, %v) = %v, want %v", c.status, c.code, c.transient, got, c.want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	body := `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_subcode":2494010,
	"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed"},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`
	e := decodeError(400, http.Header{}, []byte(body))
	if e.Code != 131047 || e.Subcode != 2494010 || e.Type != "OAuthException" || e.FBTraceID != "Az8or2yhqkZfEZ-_4Qn_Bam" ||
		!strings.HasPrefix(e.Details, "Message failed") || e.Retryable() {
		t.Fatalf("%+v", e)
	}
	if f := e.Failure(); f.Code != "131047" || !strings.Contains(f.Message, "Re-engagement") || !strings.Contains(f.Message, "24 hours") {
		t.Fatalf("failure %+v", f)
	}
	if s := e.Error(); !strings.Contains(s, "131047") || !strings.Contains(s, "HTTP 400") {
		t.Fatalf("text %q", s)
	}
	// The template API's error_data is a string; the code a JSON string.
	e = decodeError(400, http.Header{}, []byte(`{"error":{"message":"Invalid parameter","type":"OAuthException","code":"100","error_subcode":2388024,"error_data":"Content in this language already exists"}}`))
	if e.Code != 100 || e.Details != "Content in this language already exists" || e.Retryable() {
		t.Fatalf("%+v", e)
	}
	// No error object: a gateway's page.
	h := http.Header{}
	h.Set("Retry-After", "7")
	e = decodeError(502, h, []byte("<html>Bad Gateway</html>"))
	if e.Code != 0 || !e.Retryable() || e.RetryAfter != 7*time.Second || e.Failure().Code != "http_502" {
		t.Fatalf("%+v", e)
	}
	e = decodeError(404, http.Header{}, nil)
	if e.Retryable() || e.Failure().Code != "http_404" {
		t.Fatalf("%+v", e)
	}
}

func TestBuildSendRequest(t *testing.T) {
	m := messages.Message{ID: "msg_1", Type: messages.TypeTemplate, To: "+923001234567",
		Template: &messages.Template{Name: "template_name", Namespace: "namespace_of_template", Language: "en", Params: []string{"Ali", "42"}}}
	r, err := BuildSendRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"923001234567","type":"template","biz_opaque_callback_data":"msg_1",` +
		`"template":{"name":"template_name","language":{"policy":"deterministic","code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ali"},{"type":"text","text":"42"}]}]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	r, _ = BuildSendRequest(messages.Message{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "see https://x.io", PreviewURL: true}})
	b, _ = json.Marshal(r)
	if string(b) != `{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"text","text":{"body":"see https://x.io","preview_url":true}}` {
		t.Fatalf("text: %s", b)
	}
	r, _ = BuildSendRequest(messages.Message{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaDocument, Link: "https://x.io/a.pdf", Caption: "c", Filename: "a.pdf"}})
	b, _ = json.Marshal(r)
	if string(b) != `{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"document","document":{"link":"https://x.io/a.pdf","caption":"c","filename":"a.pdf"}}` {
		t.Fatalf("document: %s", b)
	}

	bad := []messages.Message{
		{Type: messages.TypeText, To: "15551234567"},
		{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "  "}},
		{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: strings.Repeat("é", 4097)}},
		{Type: messages.TypeText, To: "not a phone", Text: &messages.Text{Body: "x"}},
		{Type: messages.TypeText, To: "+1234", Text: &messages.Text{Body: "x"}},
		{Type: messages.TypeTemplate, To: "15551234567", Template: &messages.Template{Name: "t"}},
		{Type: messages.TypeTemplate, To: "15551234567", Template: &messages.Template{Name: "t", Language: "en", Params: []string{""}}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaImage, Link: "ftp://x.io/a.jpg"}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaImage, Link: "/a.jpg"}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaAudio, Link: "https://x.io/a.ogg", Caption: "no"}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaImage, Link: "https://x.io/a.jpg", Filename: "a.jpg"}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: "sticker", Link: "https://x.io/a.webp"}},
		{Type: messages.TypeMedia, To: "15551234567", Media: &messages.Media{Kind: messages.MediaImage, Link: "https://x.io/a.jpg", Caption: strings.Repeat("x", 1025)}},
		{Type: "location", To: "15551234567"},
	}
	for i, m := range bad {
		if _, err := BuildSendRequest(m); !errors.Is(err, ErrInvalid) || IsRetryable(err) {
			t.Errorf("bad[%d]: %v", i, err)
		}
	}
}

// The client's requests: path, method, headers, body; the token in the
// Authorization header and nowhere else.
func TestClientRequests(t *testing.T) {
	var got []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r)
		bodies = append(bodies, string(b))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/messages"):
			fmt.Fprint(w, `{"messaging_product":"whatsapp","contacts":[{"input":"923001234567","wa_id":"923001234567"}],"messages":[{"id":"wamid.ABC"}]}`)
		case strings.HasSuffix(r.URL.Path, "/whatsapp_business_profile") && r.Method == "GET":
			// The form Meta's OpenAPI description declares.
			fmt.Fprint(w, `{"data":[{"business_profile":{"messaging_product":"whatsapp","about":"Hi","vertical":"RETAIL"}}]}`)
		default:
			fmt.Fprint(w, `{"success":true}`)
		}
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL + "/", Version: "v21.0"})
	if err != nil {
		t.Fatal(err)
	}
	cr := Credentials{AccessToken: "EAAG-secret-token", PhoneNumberID: "1065403522"}
	s, err := c.Send(context.Background(), cr, messages.Message{ID: "m1", Type: messages.TypeText, To: "+923001234567", Text: &messages.Text{Body: "hi"}})
	if err != nil || s.WAMID != "wamid.ABC" || s.WaID != "923001234567" {
		t.Fatalf("%+v %v", s, err)
	}
	r := got[0]
	if r.Method != "POST" || r.URL.Path != "/v21.0/1065403522/messages" || r.Header.Get("Authorization") != "Bearer EAAG-secret-token" ||
		r.Header.Get("Content-Type") != "application/json" || r.URL.RawQuery != "" {
		t.Fatalf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	if strings.Contains(bodies[0], "secret") {
		t.Fatal("the token is in the body")
	}
	p, err := c.GetProfile(context.Background(), cr)
	if err != nil || p.About != "Hi" || p.Vertical != "RETAIL" {
		t.Fatalf("profile %+v %v", p, err)
	}
	if got[1].URL.Query().Get("fields") != ProfileFields {
		t.Fatalf("profile query %q", got[1].URL.RawQuery)
	}
	if err := c.UpdateProfile(context.Background(), cr, Profile{About: "x", ProfilePictureURL: "https://ignored"}); err != nil {
		t.Fatal(err)
	}
	if bodies[2] != `{"messaging_product":"whatsapp","about":"x"}` {
		t.Fatalf("profile update body %s", bodies[2])
	}
	// The credentials never print their token.
	for _, s := range []string{fmt.Sprint(cr), fmt.Sprintf("%+v", cr), fmt.Sprintf("%#v", cr)} {
		if strings.Contains(s, "secret") {
			t.Fatalf("printed token: %s", s)
		}
	}
	// A channel's own base URL replaces the client's.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v21.0/1065403522/messages" {
			w.WriteHeader(404)
			return
		}
		fmt.Fprint(w, `{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.OTHER"}]}`)
	}))
	defer other.Close()
	oc := cr
	oc.BaseURL = other.URL
	if s, err := c.Send(context.Background(), oc, messages.Message{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "x"}}); err != nil || s.WAMID != "wamid.OTHER" {
		t.Fatalf("per-channel base URL: %+v %v", s, err)
	}
	oc.BaseURL = "file:///etc/passwd"
	if _, err := c.Send(context.Background(), oc, messages.Message{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad per-channel base URL: %v", err)
	}
	// Bad ids are refused before any call.
	n := len(got)
	if _, err := c.Send(context.Background(), Credentials{AccessToken: "t", PhoneNumberID: "../x"}, messages.Message{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := c.ListTemplates(context.Background(), cr, "", "", 0); !errors.Is(err, ErrInvalid) {
		t.Fatal("no WABA id:", err)
	}
	if len(got) != n {
		t.Fatal("a refused request was sent")
	}
}

func TestAnswerWithoutID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"messaging_product":"whatsapp","messages":[]}`)
	}))
	defer srv.Close()
	c, _ := New(Config{BaseURL: srv.URL})
	_, err := c.Send(context.Background(), Credentials{AccessToken: "t", PhoneNumberID: "1"}, messages.Message{Type: messages.TypeText, To: "15551234567", Text: &messages.Text{Body: "x"}})
	// 2xx without an id: not retried, since the message may have gone.
	// The sender reads any error through its Classified interface.
	var cl interface {
		Retryable() bool
		ProviderCode() string
		ProviderMessage() string
	}
	if !errors.As(err, &cl) || cl.Retryable() || cl.ProviderCode() != "http_200" || cl.ProviderMessage() == "" {
		t.Fatalf("classified: %v", err)
	}
	if e, ok := AsError(err); !ok || e.Retryable() {
		t.Fatalf("%v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []Config{{BaseURL: "ftp://x"}, {BaseURL: "graph.facebook.com"}, {Version: "23"}, {Version: "v23.0/../x"}, {BaseURL: "https://x?a=b"}} {
		if _, err := New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	c, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvBaseURL: "http://127.0.0.1:8090", EnvVersion: "v21.0"}[k]
	})
	if err != nil || c.BaseURL != "http://127.0.0.1:8090" || c.Version != "v21.0" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := NewFromEnv(func(k string) string { return map[string]string{EnvBaseURL: "gopher://x"}[k] }); err == nil {
		t.Error("NewFromEnv took a gopher:// base URL")
	}
	cl, _ := New(Config{})
	if cl.base != DefaultBaseURL || cl.version != DefaultVersion || cl.hc.Timeout != DefaultTimeout {
		t.Fatalf("defaults %+v", cl)
	}
}

func TestProfileValidate(t *testing.T) {
	ok := []Profile{
		{},
		{About: strings.Repeat("é", MaxAbout), Address: strings.Repeat("a", 256), Description: strings.Repeat("d", 512), Email: "a@b.co", Vertical: "OTC_DRUGS", Websites: []string{"https://a.io", "http://b.io/x"}},
	}
	for i, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := map[string]Profile{
		"about":       {About: strings.Repeat("a", 140)},
		"address":     {Address: strings.Repeat("a", 257)},
		"description": {Description: strings.Repeat("a", 513)},
		"email":       {Email: "nope"},
		"vertical":    {Vertical: "SHOES"},
		"websites":    {Websites: []string{"https://a", "https://b", "https://c"}},
		"websites[0]": {Websites: []string{"javascript:alert(1)"}},
	}
	for field, p := range bad {
		var fe *FieldError
		if err := p.Validate(); !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := (Profile{Email: strings.Repeat("a", 123) + "@b.io"}).Validate(); err != nil {
		t.Error("a 128-character email:", err)
	}
	if err := (Profile{Email: strings.Repeat("a", 124) + "@b.io"}).Validate(); err == nil {
		t.Error("a 129-character email passed")
	}
}

func TestTemplateValidate(t *testing.T) {
	good := TemplateDef{Name: "order_update", Language: "en_US", Category: "UTILITY",
		Components: []TemplateDefComponent{{Type: "HEADER", Format: "TEXT", Text: "Order"}, {Type: "BODY", Text: "Hi {{1}}, order {{2}} ({{1}})"}, {Type: "FOOTER", Text: "Thanks"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.BodyParams() != 2 {
		t.Fatalf("params %d", good.BodyParams())
	}
	for name, mut := range map[string]func(*TemplateDef){
		"upper-case name": func(d *TemplateDef) { d.Name = "Order" },
		"language":        func(d *TemplateDef) { d.Language = "english" },
		"category":        func(d *TemplateDef) { d.Category = "PROMO" },
		"no body":         func(d *TemplateDef) { d.Components = d.Components[:1] },
		"gap":             func(d *TemplateDef) { d.Components[1].Text = "Hi {{1}} and {{3}}" },
		"type":            func(d *TemplateDef) { d.Components[0].Type = "TITLE" },
	} {
		d := good
		d.Components = append([]TemplateDefComponent(nil), good.Components...)
		mut(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	sig := Sign("s3cret", body)
	if !VerifySignature("s3cret", sig, body) {
		t.Fatal("own signature refused")
	}
	for _, c := range []struct{ secret, header string }{{"other", sig}, {"s3cret", strings.TrimPrefix(sig, "sha256=")}, {"s3cret", "sha256=zz"}, {"", Sign("", body)}} {
		if VerifySignature(c.secret, c.header, body) {
			t.Errorf("accepted %+v", c)
		}
	}
	if VerifySignature("s3cret", sig, append(body, ' ')) {
		t.Fatal("a changed body passed")
	}
}
